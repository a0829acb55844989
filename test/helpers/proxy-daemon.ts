/**
 * A real HTTP proxy for tests: Debian's `tinyproxy`, started on 127.0.0.1 with a temp config
 * and log. tinyproxy cannot bind port 0, so a free port is picked and the start retried when
 * another process took it meanwhile; the proxy counts as up once ITS OWN log file (a fresh one
 * per attempt) says it accepts connections while the process still runs, so the port is held
 * by this proxy and no other. The log lists every request that went through it.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandRuns } from "./installed.js";

export const TINYPROXY_BINARY = "tinyproxy";

/**
 * A port the kernel just handed out and released: only a candidate (tinyproxy cannot bind
 * port 0 and report it), so `startProxy` retries on EADDRINUSE; a test that needs a port
 * nothing listens on uses it knowing another process could take it (an error all the same).
 */
export function candidatePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * True when tinyproxy is installed (scripts/setup.sh installs it), and always in CI: there a
 * missing proxy fails the tests instead of skipping them.
 */
export const hasTinyproxy: boolean =
  process.env.CI === "true" || commandRuns(TINYPROXY_BINARY, ["-v"]);

export interface StartProxyOptions {
  /** Require Basic credentials (tinyproxy's BasicAuth). */
  auth?: { user: string; password: string };
}

export interface RunningProxy {
  /** `http://127.0.0.1:PORT`, without credentials. */
  url: string;
  /** With the credentials of `auth`, when it has them. */
  urlWithCredentials: string;
  port: number;
  /** The request lines the proxy received (`CONNECT 127.0.0.1:5000 HTTP/1.1`, `GET http://...`). */
  requests(): Promise<string[]>;
  /** The whole log (for failing tests). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const READY = "Accepting connections";
const START_ATTEMPTS = 10;

function configText(port: number, logFile: string, options: StartProxyOptions): string {
  return [
    `Port ${port}`,
    "Listen 127.0.0.1",
    "Timeout 60",
    `LogFile "${logFile}"`,
    "LogLevel Info",
    "MaxClients 100",
    `ViaProxyName "ferry-test-${randomBytes(6).toString("hex")}"`,
    ...(options.auth ? [`BasicAuth ${options.auth.user} ${options.auth.password}`] : []),
    "",
  ].join("\n");
}

/** Start tinyproxy; resolves once it is up (see the module comment). */
export async function startProxy(options: StartProxyOptions = {}): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-proxy-"));
  let lastOutput = "";
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await candidatePort();
    const logFile = join(dir, `tinyproxy-${attempt}.log`);
    const configFile = join(dir, `tinyproxy-${attempt}.conf`);
    await writeFile(configFile, configText(port, logFile, options));
    const child = spawn(TINYPROXY_BINARY, ["-d", "-c", configFile], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const readLog = (): Promise<string> => readFile(logFile, "utf8").catch(() => "");
    const up = await waitUntilUp(child, exited, readLog);
    if (up) return running(child, exited, dir, port, readLog, options);
    lastOutput = `${output}\n${await readLog()}`;
    // Another process took the port between candidatePort and the bind: try another one.
    if (!/listening sockets|Address already in use/i.test(lastOutput)) break;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`tinyproxy did not start: ${lastOutput}`);
}

/** True once the log says the proxy accepts connections; false when the process exited. */
async function waitUntilUp(
  child: ChildProcess,
  exited: Promise<void>,
  readLog: () => Promise<string>,
): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if ((await readLog()).includes(READY)) return child.exitCode === null;
    await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
  }
  child.kill("SIGKILL");
  await exited;
  return false;
}

function running(
  child: ChildProcess,
  exited: Promise<void>,
  dir: string,
  port: number,
  readLog: () => Promise<string>,
  options: StartProxyOptions,
): RunningProxy {
  const url = `http://127.0.0.1:${port}`;
  const auth = options.auth;
  return {
    url,
    urlWithCredentials: auth
      ? `http://${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@127.0.0.1:${port}`
      : url,
    port,
    log: readLog,
    async requests() {
      const lines: string[] = [];
      for (const line of (await readLog()).split("\n")) {
        const match = /Request \(file descriptor \d+\): (.*)$/.exec(line);
        if (match) lines.push((match[1] as string).trim());
      }
      return lines;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
