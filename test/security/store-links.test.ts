/**
 * A co-tenant who can write into the store plants symbolic links (issue 13): a blob replaced
 * by a link to a private file of the same size, index.json linked to another layout, the load
 * log linked to a file to overwrite. ferry refuses each, names it, and reads or writes nothing
 * through the link: the registry holds none of the private bytes after a push.
 */

import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type AsyncRun,
  ferry,
  ferryAsync,
  ferryJson,
  type RunResult,
  tempDir,
} from "../helpers/cli.js";
import { forwardRequest } from "../helpers/forward.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { createLayout } from "../helpers/oci-layout.js";
import { hasRegistry, startRegistry } from "../helpers/registry.js";

/** Above the push's monolithic-upload limit (8 MiB): such a blob is streamed to the registry. */
const LAYER_BYTES = 9 * 1024 * 1024;

/** Every file under `dir` whose bytes contain `needle`. */
function filesContaining(dir: string, needle: Buffer): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (readFileSync(file).includes(needle)) found.push(file);
  }
  return found;
}

/** An HTTP proxy in front of a registry that keeps every request body it forwards. */
async function recordingProxy(
  target: string,
): Promise<{ host: string; bodies: Buffer[]; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const bodies: Buffer[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      bodies.push(body);
      forwardRequest(upstream, request, response).end(body);
    });
  });
  const port = await listenOnLoopback(server);
  return {
    host: `127.0.0.1:${port}`,
    bodies,
    stop: () => closeServer(server),
  };
}

function expectRefused(result: RunResult | AsyncRun, digest: string): void {
  expect(result.code, result.stderr).toBe(3);
  expect(result.stderr).toContain("[EBADSTORE]");
  expect(result.stderr).toContain(`blob ${digest}`);
  expect(result.stderr).toContain("is a symbolic link, not a regular file");
  expect(result.stderr).toContain("ferry check --repair");
}

describe("a store with planted symbolic links", () => {
  const tmp = tempDir("ferry-links-");
  const store = path.join(tmp.dir, "store");
  const secret = path.join(tmp.dir, "private", "secret.bin");
  const secretBytes = randomBytes(LAYER_BYTES);
  let layer: string;
  let bundle: string;

  beforeAll(() => {
    const layout = createLayout(path.join(tmp.dir, "layout"));
    const image = layout.image({ layers: [randomBytes(LAYER_BYTES)] });
    layout.tag("example.com/team/app:1", image);
    layout.finish();
    layer = image.layers[0] as string;
    bundle = path.join(tmp.dir, "app.zip");
    const saved = ferry(["save", `oci:${layout.dir}`, "-o", bundle]);
    expect(saved.code, saved.stderr).toBe(0);
    // A private file of exactly the layer's size, so that no size check stops the read.
    mkdirSync(path.dirname(secret), { mode: 0o700 });
    writeFileSync(secret, secretBytes);
    chmodSync(secret, 0o600);
  });
  afterAll(() => tmp.cleanup());

  /** A fresh store holding the image, its layer blob replaced by a link to the secret. */
  beforeEach(() => {
    rmSync(store, { recursive: true, force: true });
    const loaded = ferry(["load", bundle, "--store", store]);
    expect(loaded.code, loaded.stderr).toBe(0);
    const blob = path.join(store, "blobs", "sha256", layer.slice(7));
    rmSync(blob);
    symlinkSync(secret, blob);
  });

  it.runIf(hasRegistry)(
    "push refuses the linked blob, naming it, and sends none of the private bytes",
    async () => {
      const registry = await startRegistry();
      const proxy = await recordingProxy(registry.url);
      try {
        const pushed = await ferryAsync(
          ["push", "example.com/team/app:1", `${proxy.host}/leak/app:1`, "--store", store],
          {
            env: {
              FERRY_CACHE: path.join(tmp.dir, "cache"),
              FERRY_AUTH_FILE: path.join(tmp.dir, "auth.json"),
              DOCKER_CONFIG: path.join(tmp.dir, "docker"),
            },
          },
        );
        expectRefused(pushed, layer);
        // No piece of the private file in any request the registry was sent (an upload starts
        // at the blob's first byte, so any bytes sent would include the first piece).
        const sent = Buffer.concat(proxy.bodies);
        for (let offset = 0; offset < LAYER_BYTES; offset += 512 * 1024) {
          expect(sent.includes(secretBytes.subarray(offset, offset + 64)), `at ${offset}`).toBe(
            false,
          );
        }
        expect(filesContaining(registry.dir, secretBytes.subarray(0, 64))).toEqual([]);
      } finally {
        await proxy.stop();
        await registry.stop();
      }
    },
  );

  it("export refuses it and writes no archive", () => {
    const out = path.join(tmp.dir, "out.tar");
    const exported = ferry(["export", "example.com/team/app:1", "-o", out, "--store", store]);
    expectRefused(exported, layer);
    expect(existsSync(out)).toBe(false);
  });

  it("load refuses to count it as present", () => {
    expectRefused(ferry(["load", bundle, "--store", store]), layer);
  });

  it("check reports it as not a file (without hashing the target); --repair moves the link away", () => {
    const checked = ferryJson<{
      problems: Array<{ kind: string; digest: string; images: string[] }>;
    }>(["check", "--store", store]);
    expect(checked.code).toBe(3);
    expect(checked.json.problems).toEqual([
      expect.objectContaining({
        kind: "not-a-file",
        digest: layer,
        images: ["example.com/team/app:1"],
      }),
    ]);
    const repaired = ferryJson<{ repaired: { quarantined: string[] } }>([
      "check",
      "--repair",
      "--store",
      store,
    ]);
    expect(repaired.json.repaired.quarantined).toEqual([layer]);
    expect(readFileSync(secret).equals(secretBytes)).toBe(true);
    const reloaded = ferry(["load", bundle, "--store", store]);
    expect(reloaded.code, reloaded.stderr).toBe(0);
    expect(ferry(["check", "--store", store]).code).toBe(0);
  });

  it("index.json linked to another layout's is refused, not listed", () => {
    const other = createLayout(path.join(tmp.dir, "other"));
    other.tag("evil.example/planted:1", other.image({ layers: [randomBytes(16)] }));
    other.finish();
    rmSync(path.join(store, "index.json"));
    symlinkSync(path.join(other.dir, "index.json"), path.join(store, "index.json"));
    const listed = ferry(["images", "--store", store]);
    expect(listed.code).toBe(3);
    expect(listed.stderr).toContain(
      `[EBADSTORE]: ${path.join(store, "index.json")} is a symbolic link, not a regular file`,
    );
    expect(listed.stdout).not.toContain("planted");
  });

  it("a log.jsonl link planted in the working area is never written through", () => {
    const target = path.join(tmp.dir, "victim.txt");
    writeFileSync(target, "precious\n");
    const logFile = path.join(store, ".ferry", "log.jsonl");
    rmSync(logFile, { force: true });
    symlinkSync(target, logFile);
    // Another image, so the load has a line to log.
    const layout = createLayout(path.join(tmp.dir, "more"));
    layout.tag("example.com/team/more:1", layout.image({ layers: [randomBytes(100)] }));
    layout.finish();
    const more = path.join(tmp.dir, "more.zip");
    expect(ferry(["save", `oci:${layout.dir}`, "-o", more]).code).toBe(0);
    const loaded = ferry(["load", more, "--store", store]);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    const log = ferry(["log", "--store", store]);
    expect(log.code).toBe(3);
    expect(log.stderr).toContain(`the store's load log (${logFile}) is a symbolic link`);
  });
});
