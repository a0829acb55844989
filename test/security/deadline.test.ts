/**
 * A server that drips a byte now and then never trips the stall timeout; it must not hold a
 * save for ever (issue 13). Small answers (pings, tokens, manifests) have an overall deadline;
 * blob bodies a speed floor; WIM downloads both, and the stall timeout. The limits here are
 * tiny configured values: the tests assert the typed error and what it names, never how long
 * anything took. The real registry sits behind the fault proxy, whose `respond` fault drips.
 */

import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../src/errors.js";
import { credentialLookup } from "../../src/transports/registry/credentials.js";
import { openClient, type RegistrySessionOptions } from "../../src/transports/registry/session.js";
import { WimSource } from "../../src/transports/wim/source.js";
import type { RespondHandler } from "../helpers/fault-proxy.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { makeImage, pushImage, type TestImage } from "../helpers/registry.js";
import { hasWimtools, makeSourceTree, wimCapture } from "../helpers/wimtools.js";
import {
  saveRefs,
  tempDir,
  testSession,
  withProxiedRegistry,
} from "../transports/registry/fixtures.js";

const DRIP_MS = 20;
/**
 * A floor no drip of one byte per DRIP_MS can reach over the window; the window is long enough
 * that a small blob the registry sends in one go never waits a whole window on a busy machine.
 */
const FLOOR = { bytesPerSecond: 5_000, windowMs: 1_000 };
/** A request deadline the real registry's small answers (ping, manifests) meet on a busy machine. */
const DEADLINE_MS = 2_000;

/** Open drips, stopped after each test. */
const drips = new Set<NodeJS.Timeout>();

/** Send `bytes` one byte per DRIP_MS (then end), after `head` was written. */
function drip(response: ServerResponse, bytes: Buffer): void {
  let at = 0;
  const timer = setInterval(() => {
    if (response.destroyed || at >= bytes.length) {
      clearInterval(timer);
      drips.delete(timer);
      if (!response.destroyed) response.end();
      return;
    }
    response.write(bytes.subarray(at, at + 1));
    at++;
  }, DRIP_MS);
  drips.add(timer);
  response.on("close", () => {
    clearInterval(timer);
    drips.delete(timer);
  });
}

function stopDrips(): void {
  for (const timer of drips) clearInterval(timer);
  drips.clear();
}

/** A server on 127.0.0.1 answering with `handle`. */
async function serve(
  handle: (path: string, response: ServerResponse) => void,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    request.resume();
    handle(request.url ?? "/", response);
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => closeServer(server),
  };
}

function codeAndMessage(error: unknown): string {
  return isFerryError(error) ? `${error.code}: ${error.message}` : String(error);
}

describe.each([
  { client: "the raw blob client", env: undefined },
  { client: "node:http (FERRY_BLOB_HTTP=node)", env: "node" },
])("registry answers that drip ($client)", ({ env }) => {
  let image: TestImage;
  let blob: string;
  const blobSize = 50_000;
  const net = withProxiedRegistry(async (url) => {
    image = makeImage({ layers: [randomBytes(blobSize)] });
    blob = image.layers[0]?.digest ?? "";
    await pushImage(url, "slow/app", "1", image);
  });
  let saved: string | undefined;

  beforeAll(() => {
    saved = process.env.FERRY_BLOB_HTTP;
    if (env) process.env.FERRY_BLOB_HTTP = env;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.FERRY_BLOB_HTTP;
    else process.env.FERRY_BLOB_HTTP = saved;
  });
  afterEach(() => {
    net.proxy.clear();
    stopDrips();
  });

  async function trySave(options: Partial<RegistrySessionOptions>) {
    const dir = await tempDir();
    const session = await testSession(join(dir, "cache"), {
      retry: { retries: 1, baseDelayMs: 10, maxDelayMs: 20 },
      stallTimeoutMs: 30_000,
      ...options,
    });
    try {
      await saveRefs(session, {
        refs: [`${net.proxy.host}/slow/app:1`],
        output: join(dir, "o.zip"),
      });
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await session.close();
    }
  }

  const blobPath = () => new RegExp(`/blobs/${blob}$`);
  /** Every request matching `match` is answered by `handler` (the registry never sees it). */
  const alwaysRespond = (match: RegExp, handler: RespondHandler) =>
    net.proxy.add({ match, times: Number.POSITIVE_INFINITY, fault: { kind: "respond", handler } });

  it("a blob body below the speed floor: ENETWORK naming the blob and its URL", async () => {
    alwaysRespond(blobPath(), (_request, response) => {
      response.writeHead(200, { "Content-Length": String(blobSize) });
      drip(response, randomBytes(blobSize));
    });
    const error = await trySave({ minRate: FLOOR });
    expect(codeAndMessage(error)).toMatch(/^ENETWORK: /);
    const message = (error as Error).message;
    expect(message).toContain(blob);
    expect(message).toContain(`http://${net.proxy.host}/v2/slow/app/blobs/${blob}`);
    expect(message).toContain("too slow");
    // Both attempts (the first and its one retry) were given up.
    expect(net.proxy.requests.filter((r) => r.path.endsWith(blob))).toHaveLength(2);
  });

  it("a blob redirected to storage that drips: the storage URL is named without its signature", async () => {
    const storage = await serve((_path, response) => {
      response.writeHead(200, { "Content-Length": String(blobSize) });
      drip(response, randomBytes(blobSize));
    });
    try {
      net.proxy.add({
        match: blobPath(),
        times: Number.POSITIVE_INFINITY,
        fault: {
          kind: "redirect",
          location: `${storage.url}/bucket/${blob}?X-Amz-Signature=SECRET-SIG&X-Amz-Credential=KEYID`,
        },
      });
      const notes: string[] = [];
      const error = await trySave({ minRate: FLOOR, onNote: (text) => notes.push(text) });
      expect(codeAndMessage(error)).toMatch(/^ENETWORK: /);
      const message = (error as Error).message;
      expect(message).toContain(blob);
      expect(message).toContain(`${storage.url}/bucket/${blob}`);
      const everything = JSON.stringify({
        json: (error as { toJSON(): unknown }).toJSON(),
        notes,
      });
      expect(everything).not.toContain("SECRET-SIG");
      expect(everything).not.toContain("KEYID");
    } finally {
      await storage.stop();
    }
  });

  it("a blob whose response head drips: ENETWORK once the request deadline passes", async () => {
    alwaysRespond(blobPath(), (_request, response) => {
      // Headers flushed one byte at a time, never finished.
      const socket = response.socket;
      if (!socket) return;
      const head = Buffer.from(`HTTP/1.1 200 OK\r\nX-Padding: ${"a".repeat(100_000)}`);
      let at = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) {
          clearInterval(timer);
          return;
        }
        socket.write(head.subarray(at, at + 1));
        at++;
      }, DRIP_MS);
      drips.add(timer);
    });
    const error = await trySave({ requestTimeoutMs: DEADLINE_MS, minRate: FLOOR });
    expect(codeAndMessage(error)).toMatch(/^ENETWORK: /);
    expect((error as Error).message).toContain(blob);
    expect((error as Error).message).toContain("no complete answer");
  });

  it("a manifest that drips: ENETWORK naming its URL once the request deadline passes", async () => {
    alwaysRespond(/\/manifests\/1$/, (_request, response) => {
      response.writeHead(200, {
        "Content-Type": image.mediaType,
        "Content-Length": String(image.bytes.length),
      });
      drip(response, image.bytes);
    });
    const error = await trySave({ requestTimeoutMs: DEADLINE_MS });
    expect(codeAndMessage(error)).toMatch(/^ENETWORK: /);
    expect((error as Error).message).toContain(`http://${net.proxy.host}/v2/slow/app/manifests/1`);
    expect((error as Error).message).toContain("no complete answer");
  });
});

describe("a token service that drips", () => {
  let service: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    service = await serve((_path, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      drip(response, Buffer.from(JSON.stringify({ token: "a".repeat(5_000) })));
    });
  });
  afterAll(async () => {
    stopDrips();
    await service?.stop();
  });

  it("ENETWORK naming the token service once the request deadline passes", async () => {
    const client = await openClient("127.0.0.1:9", {
      credentials: credentialLookup({ useDockerConfig: false, authFile: "/nonexistent" }),
      retry: { retries: 0 },
      stallTimeoutMs: 30_000,
      requestTimeoutMs: 300,
      certsDir: await tempDir(),
    });
    try {
      client.auth.learn(`Bearer realm="${service.url}/token",service="x"`);
      const error = await client.auth
        .authorization(["repository:app:pull"])
        .catch((e: unknown) => e);
      expect(codeAndMessage(error)).toMatch(/^ENETWORK: /);
      expect((error as Error).message).toContain(`${service.url}/token`);
    } finally {
      client.close();
    }
  });
});

describe.skipIf(!hasWimtools)("WIM downloads that drip or stop", () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    // A real WIM (wimcapture): its header is fine, so only the network can fail the download.
    const dir = await tempDir();
    const tree = await makeSourceTree(join(dir, "tree"), { fileCount: 2, fileBytes: 30_000 });
    const wim = await readFile(await wimCapture(tree, join(dir, "nano.wim"), "NanoServer"));
    server = await serve((path, response) => {
      if (path.startsWith("/drip/")) {
        response.writeHead(200, { "Content-Length": String(wim.length) });
        drip(response, wim);
      } else if (path.startsWith("/stop/")) {
        response.writeHead(200, { "Content-Length": String(wim.length) });
        response.write(wim.subarray(0, 1_000));
      }
      // "/silent/": no answer at all.
    });
  });
  afterAll(async () => {
    stopDrips();
    await server?.stop();
  });

  async function tryOpen(path: string, limits: Parameters<typeof WimSource.open>[1]) {
    const url = `${server.url}${path}?sig=SECRET-SIG`;
    const error = await WimSource.open(url, { tempDir: await tempDir(), ...limits }).then(
      async (source) => {
        await source.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(codeAndMessage(error)).toMatch(/^ENETWORK: /);
    const message = (error as Error).message;
    expect(message).toContain(`${server.url}${path}`);
    expect(JSON.stringify((error as { toJSON(): unknown }).toJSON())).not.toContain("SECRET");
    return message;
  }

  it("a body below the speed floor", async () => {
    const message = await tryOpen("/drip/nano.wim", {
      limits: { minRate: FLOOR, stallTimeoutMs: 30_000 },
    });
    expect(message).toContain("too slow");
  });

  it("a body that stops", async () => {
    const message = await tryOpen("/stop/nano.wim", { limits: { stallTimeoutMs: 300 } });
    expect(message).toContain("stalled");
  });

  it("no answer at all", async () => {
    const message = await tryOpen("/silent/nano.wim", { limits: { requestTimeoutMs: 300 } });
    expect(message).toContain("no answer");
  });
});
