// The real distribution registry (Debian `docker-registry`) for the benchmark: plain http on
// 127.0.0.1, filesystem storage in a directory the caller names (under bench/work/, on the
// same disk as the rest of the data), logs off. Written after test/helpers/registry.ts.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import path from "node:path";

export const REGISTRY_BINARY = "docker-registry";

export function hasRegistry() {
  return spawnSync(REGISTRY_BINARY, ["--version"], { stdio: "ignore" }).status === 0;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** GET url; resolve with the status code and body (small bodies only). */
export function httpGet(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
        }),
      );
    });
    request.on("error", reject);
  });
}

/**
 * Start a registry storing into `dir`/data. `stop()` removes `dir` unless `keep` (here or
 * there): the source registry's storage is kept for the next run. Resolves once `GET /v2/`
 * answers.
 */
export async function startRegistry(dir, { keep: keepByDefault = false } = {}) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const config = {
    version: 0.1,
    log: { level: "error", accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: path.join(dir, "data") },
      delete: { enabled: true },
      // No in-memory blob descriptor cache: every run sees the registry as a fresh one would.
    },
    http: { addr: `127.0.0.1:${port}` },
  };
  const configFile = path.join(dir, "config.yml");
  writeFileSync(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
  // Its output goes to a file, not a pipe: a pipe nobody reads while the bench waits in a
  // spawnSync fills up and blocks the registry mid-request.
  const logFile = path.join(dir, "registry.log");
  const logFd = openSync(logFile, "a");
  const child = spawn(REGISTRY_BINARY, ["serve", configFile], {
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  const output = () => {
    try {
      return readFileSync(logFile, "utf8").slice(-3000);
    } catch {
      return "";
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${output().trim()}`);
    const status = await httpGet(`${url}/v2/`)
      .then((r) => r.status)
      .catch(() => 0);
    if (status === 200) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not start: ${output().trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    dir,
    pid: child.pid,
    log: output,
    /** Stop it; remove its storage unless `keep`. */
    async stop({ keep = keepByDefault } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}
