/**
 * The raw HTTP/1.1 client that blob downloads read bodies with (`raw-http.ts`), against a
 * scripted TCP server: framing (Content-Length, chunked, close-delimited), heads split across
 * reads, keep-alive reuse and a stale connection, more bytes than declared, stalls, aborts.
 */

import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import { createAgent, sendHttp } from "../../../src/transports/registry/http.js";
import { RawPool } from "../../../src/transports/registry/raw-http.js";
import { listenOnLoopback } from "../../helpers/loopback.js";

type Script = (socket: Socket, request: string) => void;

let server: Server;
let base: string;
let script: Script;

/**
 * Script the server: each request is counted per connection; when `drop(count, connections)`
 * says so the connection is destroyed, otherwise `body` is the answer. Returns the counts.
 */
function dropOrAnswer(
  body: Buffer,
  drop: (count: number, connections: number) => boolean,
): Map<Socket, number> {
  const requestsOn = new Map<Socket, number>();
  script = (socket) => {
    const count = (requestsOn.get(socket) ?? 0) + 1;
    requestsOn.set(socket, count);
    if (drop(count, requestsOn.size)) {
      socket.destroy();
      return;
    }
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
  };
  return requestsOn;
}
let connections = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = "";
    socket.on("data", (data) => {
      pending += data.toString("latin1");
      let at = pending.indexOf("\r\n\r\n");
      while (at >= 0) {
        const request = pending.slice(0, at);
        pending = pending.slice(at + 4);
        script(socket, request);
        at = pending.indexOf("\r\n\r\n");
      }
    });
  });
  base = `http://127.0.0.1:${await listenOnLoopback(server)}`;
});

afterEach(() => {
  for (const socket of sockets) socket.destroy();
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Read a whole body with fills of `size` bytes. */
async function readAll(
  body: { fill: (b: Uint8Array, o: number, l: number) => Promise<number> },
  size = 100_000,
) {
  const parts: Buffer[] = [];
  while (true) {
    const buffer = Buffer.alloc(size);
    const count = await body.fill(buffer, 0, size);
    if (count === 0) break;
    parts.push(buffer.subarray(0, count));
  }
  return Buffer.concat(parts);
}

function get(pool: RawPool, path: string, stallTimeoutMs = 5_000, signal?: AbortSignal) {
  return pool.send(new URL(path, base), {
    method: "GET",
    headers: { "User-Agent": "test" },
    stallTimeoutMs,
    signal,
  });
}

/** A fresh RawPool for `use`, destroyed after it whatever happens. */
async function withPool(use: (pool: RawPool) => Promise<void>): Promise<void> {
  const pool = new RawPool({});
  try {
    await use(pool);
  } finally {
    pool.destroy();
  }
}

describe("raw HTTP client for blob bodies", () => {
  it("reads a Content-Length body in order, with several fills waiting at once; keeps the connection", async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const requests: string[] = [];
    script = (socket, request) => {
      requests.push(request);
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-A: 1\r\nX-A: 2\r\n\r\n`);
      // In uneven pieces, so reads land across fill boundaries.
      for (let at = 0; at < body.length; at += 77_777) socket.write(body.subarray(at, at + 77_777));
    };
    const before = connections;
    await withPool(async (pool) => {
      const response = await get(pool, "/v2/a/blobs/x?q=1");
      expect(response.status).toBe(200);
      expect(response.headers["x-a"]).toBe("1, 2");
      expect(requests[0]).toMatch(
        /^GET \/v2\/a\/blobs\/x\?q=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/,
      );
      const buffers = [Buffer.alloc(1 << 20), Buffer.alloc(1 << 20), Buffer.alloc(1 << 20)];
      const fills = buffers.map((b) => response.body.fill(b, 0, b.length));
      const counts = await Promise.all(fills);
      expect(counts).toEqual([1 << 20, 1 << 20, 1 << 20]);
      const rest = await readAll(response.body);
      expect(sha(Buffer.concat([...buffers, rest]))).toBe(sha(body));
      expect(await response.body.fill(Buffer.alloc(10), 0, 10)).toBe(0);
      // A second request reuses the connection.
      const again = await get(pool, "/again");
      expect(sha(await readAll(again.body))).toBe(sha(body));
      expect(connections - before).toBe(1);
    });
  });

  it("decodes chunked bodies, heads split byte by byte, and skips 100 Continue", async () => {
    const body = randomBytes(200_000);
    script = (socket) => {
      const head =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (const ch of head) socket.write(ch);
      const pieces: Buffer[] = [];
      for (let at = 0; at < body.length; at += 30_001) {
        const piece = body.subarray(at, at + 30_001);
        pieces.push(
          Buffer.from(`${piece.length.toString(16)};ext=1\r\n`),
          piece,
          Buffer.from("\r\n"),
        );
      }
      pieces.push(Buffer.from("0\r\nX-Trailer: y\r\n\r\n"));
      const all = Buffer.concat(pieces);
      for (let at = 0; at < all.length; at += 4096) socket.write(all.subarray(at, at + 4096));
    };
    await withPool(async (pool) => {
      const response = await get(pool, "/chunked");
      expect(response.status).toBe(200);
      expect(sha(await readAll(response.body, 65_536))).toBe(sha(body));
    });
  });

  it("reads a close-delimited body to the end of the connection, and never reuses it", async () => {
    const body = randomBytes(100_000);
    script = (socket) => {
      socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
      socket.end(body);
    };
    const before = connections;
    await withPool(async (pool) => {
      const response = await get(pool, "/close");
      expect(sha(await readAll(response.body))).toBe(sha(body));
      const again = await get(pool, "/close");
      expect(sha(await readAll(again.body))).toBe(sha(body));
      expect(connections - before).toBe(2);
    });
  });

  it("a kept connection the server drops as the next request arrives is replaced, once", async () => {
    // The keep-alive race: the server closes an idle connection just as the client sends on
    // it. Played without timers: the second request on the kept connection meets a close.
    const body = randomBytes(1000);
    const requestsOn = dropOrAnswer(body, (count) => count === 2);
    const before = connections;
    await withPool(async (pool) => {
      await readAll((await get(pool, "/one")).body);
      const second = await get(pool, "/two");
      expect(sha(await readAll(second.body))).toBe(sha(body));
      // The kept connection took the request (and dropped it); a fresh one answered.
      expect([...requestsOn.values()]).toEqual([2, 1]);
      expect(connections - before).toBe(2);
    });
  });

  it("a fresh connection that fails is not tried again", async () => {
    const body = randomBytes(1000);
    // The first connection answers once, then drops; every later connection drops at once.
    const requestsOn = dropOrAnswer(body, (count, sockets) => sockets > 1 || count > 1);
    const before = connections;
    await withPool(async (pool) => {
      await readAll((await get(pool, "/one")).body);
      await expect(get(pool, "/two")).rejects.toMatchObject({ code: "ECONNRESET" });
      // The kept connection, then one fresh one: no third attempt.
      expect([...requestsOn.values()]).toEqual([2, 1]);
      expect(connections - before).toBe(2);
      await expect(get(pool, "/three")).rejects.toMatchObject({ code: "ECONNRESET" });
      expect(connections - before).toBe(3);
    });
  });

  it("a cut hands over the bytes that arrived, then fails", async () => {
    let resetLater: Socket | undefined;
    script = (socket, request) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
      if (request.startsWith("GET /closed")) {
        // A close (FIN) travels after the data: the reader always has the 5000 bytes first.
        socket.end(Buffer.alloc(5000, 1));
        return;
      }
      resetLater = socket;
      socket.write(Buffer.alloc(5000, 1));
    };
    await withPool(async (pool) => {
      const buffer = Buffer.alloc(1 << 20);
      const closed = await get(pool, "/closed");
      expect(await closed.body.fill(buffer, 0, buffer.length)).toBe(5000);
      await expect(closed.body.fill(buffer, 0, buffer.length)).rejects.toMatchObject({
        code: "ECONNRESET",
      });
      // A reset (RST) once the reader has the bytes: the fill waiting for more fails.
      const reset = await get(pool, "/reset");
      expect(await reset.body.fill(buffer, 0, 5000)).toBe(5000);
      const waiting = reset.body.fill(buffer, 0, buffer.length);
      resetLater?.resetAndDestroy();
      await expect(waiting).rejects.toMatchObject({ code: "ECONNRESET" });
    });
  });

  it("a stall hands over the bytes that arrived, then fails after the stall timeout", async () => {
    // Long enough that a busy machine cannot stall the head itself.
    const stallMs = 1_000;
    script = (socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
      socket.write(Buffer.alloc(10, 1));
    };
    await withPool(async (pool) => {
      const buffer = Buffer.alloc(1 << 20);
      const stalled = await get(pool, "/stall", stallMs);
      const started = performance.now();
      expect(await stalled.body.fill(buffer, 0, buffer.length)).toBe(10);
      await expect(stalled.body.fill(buffer, 0, buffer.length)).rejects.toMatchObject({
        code: "ESTALL",
      });
      // A lower bound only (the timer was waited for): a slow machine can only add to it.
      expect(performance.now() - started).toBeGreaterThanOrEqual(stallMs - 50);
    });
  });

  it("an abort fails the waiting fill; sendHttp names it and keeps node:http for the rest", async () => {
    script = (socket, request) => {
      if (request.startsWith("GET /slow")) {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
        return;
      }
      socket.write(
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
      );
    };
    const agent = createAgent("http:", undefined);
    try {
      const controller = new AbortController();
      const slow = await sendHttp(new URL("/slow", base), {
        agent,
        rawBody: true,
        stallTimeoutMs: 5_000,
        signal: controller.signal,
      });
      expect(slow.body.fill).toBeTypeOf("function");
      const waiting = slow.body.fill?.(Buffer.alloc(100), 0, 100);
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ code: "ABORT_ERR" });
      // Small bodies iterate like any other response.
      const missing = await sendHttp(new URL("/missing", base), {
        agent,
        rawBody: true,
        stallTimeoutMs: 5_000,
      });
      expect(missing.status).toBe(404);
      expect(missing.body.statusMessage).toBe("Not Found");
      const chunks: Buffer[] = [];
      for await (const chunk of missing.body) chunks.push(chunk);
      expect(Buffer.concat(chunks).toString()).toBe("{}");
      // Without rawBody, node:http as before.
      const plain = await sendHttp(new URL("/missing", base), { agent, stallTimeoutMs: 5_000 });
      expect(plain.body.fill).toBeUndefined();
      plain.body.destroy();
    } finally {
      agent.destroy();
    }
  });

  it("connection errors come out as ferry's network errors", async () => {
    const agent = createAgent("http:", undefined);
    try {
      // Linux refuses a connection to port 0 outright: no port closed and hoped to stay free.
      const error = await sendHttp(new URL("http://127.0.0.1:0/x"), {
        agent,
        rawBody: true,
        stallTimeoutMs: 2_000,
      }).catch((e: unknown) => e);
      expect(isFerryError(error) && error.code).toBe("ENETWORK");
      expect((error as Error).message).toContain("connection refused");
    } finally {
      agent.destroy();
    }
  });
});
