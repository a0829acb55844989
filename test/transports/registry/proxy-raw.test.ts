/**
 * The raw blob client (`raw-http.ts`) through a real proxy (tinyproxy): https bodies arrive
 * through a CONNECT tunnel as TLS stream chunks, copied into the caller's buffers; a slow
 * reader makes reading pause and resume with bytes held over, and the tunnel is kept alive for
 * the next request. Plain http goes to the proxy in absolute form.
 */

import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer } from "node:net";
import { setImmediate as tick } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import { trustedCas } from "../../../src/transports/registry/ca-bundle.js";
import { createAgent, readBody, sendHttp } from "../../../src/transports/registry/http.js";
import { RawPool } from "../../../src/transports/registry/raw-http.js";
import { proxyConfigFrom } from "../../../src/types/proxy.js";
import { closeServer, listenOnLoopback } from "../../helpers/loopback.js";
import { hasTinyproxy, type RunningProxy, startProxy } from "../../helpers/proxy-daemon.js";
import { makeCertificate } from "../../helpers/registry.js";
import { removeTempDirs, tempDir } from "./fixtures.js";

const sha = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

describe.skipIf(!hasTinyproxy)("the raw blob client through a proxy", () => {
  let proxy: RunningProxy;
  let https: Server;
  let http: Server;
  let httpsBase: string;
  let httpBase: string;
  let ca: string;
  const body = randomBytes(6 * 1024 * 1024 + 123);

  beforeAll(async () => {
    const dir = await tempDir();
    const cert = await makeCertificate(dir, "blobs");
    ca = await readFile(cert.certificate, "utf8");
    proxy = await startProxy();
    const serve: RequestListener = (request, response) => {
      if (request.url === "/stop") {
        // Half the body, then nothing: the stall timeout must notice through the tunnel.
        response.writeHead(200, { "Content-Length": body.length });
        response.write(body.subarray(0, 100_000));
        return;
      }
      if (request.url === "/chunked") {
        response.writeHead(200);
        for (let at = 0; at < body.length; at += 300_001)
          response.write(body.subarray(at, at + 300_001));
        response.end();
        return;
      }
      response.writeHead(200, { "Content-Length": body.length });
      response.end(body);
    };
    https = createHttpsServer(
      { cert: await readFile(cert.certificate), key: await readFile(cert.key) },
      serve,
    );
    http = createHttpServer(serve);
    httpsBase = `https://127.0.0.1:${await listenOnLoopback(https)}`;
    httpBase = `http://127.0.0.1:${await listenOnLoopback(http)}`;
  });

  afterAll(async () => {
    for (const server of [https, http]) await closeServer(server);
    await proxy?.stop();
    await removeTempDirs();
  });

  /** Read a body with small fills and a pause after each, so the socket gets ahead of us. */
  async function readSlowly(fill: (b: Uint8Array, o: number, l: number) => Promise<number>) {
    const parts: Buffer[] = [];
    while (true) {
      const buffer = Buffer.alloc(7_001);
      const count = await fill(buffer, 0, buffer.length);
      if (count === 0) break;
      parts.push(buffer.subarray(0, count));
      if (parts.length % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      else await tick();
    }
    return Buffer.concat(parts);
  }

  it("https through a CONNECT tunnel: every byte in order, for a slow reader; the tunnel reused", async () => {
    const pool = new RawPool({
      tls: { ca: trustedCas([ca]), verify: true },
      proxy: proxyConfigFrom({}, proxy.url),
    });
    const before = (await proxy.requests()).length;
    try {
      for (const path of ["/length", "/chunked", "/length"]) {
        const response = await pool.send(new URL(path, httpsBase), {
          method: "GET",
          headers: {},
          stallTimeoutMs: 10_000,
        });
        expect(response.status).toBe(200);
        const received = await readSlowly(response.body.fill.bind(response.body));
        expect(received.length).toBe(body.length);
        expect(sha(received)).toBe(sha(body));
        // Let the connection go back to the pool before the next request.
        await tick();
      }
    } finally {
      pool.destroy();
    }
    const host = new URL(httpsBase).host;
    expect((await proxy.requests()).slice(before)).toEqual([`CONNECT ${host} HTTP/1.1`]);
  });

  it("--stall-timeout holds through the tunnel: ENETWORK naming the URL and the proxy", async () => {
    for (const rawBody of [true, false]) {
      const agent = createAgent(
        "https:",
        { verify: true, ca: [ca] },
        { proxy: proxyConfigFrom({}, proxy.url) },
      );
      try {
        const url = new URL("/stop", httpsBase);
        const response = await sendHttp(url, { agent, rawBody, stallTimeoutMs: 500 });
        const error = await readBody(response, 64 * 1024 * 1024).catch((e: unknown) => e);
        expect(isFerryError(error) && error.code).toBe("ENETWORK");
        expect((error as Error).message).toContain(
          `${httpsBase}/stop (via the proxy ${proxy.url}): stalled`,
        );
      } finally {
        agent.destroy();
      }
    }
  });

  it("plain http: absolute-form requests to the proxy, every byte in order", async () => {
    const pool = new RawPool({ proxy: proxyConfigFrom({}, proxy.url) });
    const before = (await proxy.requests()).length;
    try {
      for (const path of ["/length", "/chunked"]) {
        const response = await pool.send(new URL(path, httpBase), {
          method: "GET",
          headers: {},
          stallTimeoutMs: 10_000,
        });
        expect(response.status).toBe(200);
        expect(sha(await readSlowly(response.body.fill.bind(response.body)))).toBe(sha(body));
      }
    } finally {
      pool.destroy();
    }
    expect((await proxy.requests()).slice(before)).toEqual([
      `GET ${httpBase}/length HTTP/1.1`,
      `GET ${httpBase}/chunked HTTP/1.1`,
    ]);
  });
});

describe("a server that closes right after the body (tinyproxy does, without saying so)", () => {
  it("the reader still gets the bytes that arrived before the close, then the end", async () => {
    // Small enough to sit whole in the client's buffer (with the close) before anyone reads.
    const body = randomBytes(20_000);
    const server = createTcpServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        socket.end(body);
      });
    });
    const port = await listenOnLoopback(server);
    const pool = new RawPool({});
    try {
      const url = new URL(`http://127.0.0.1:${port}/blob`);
      for (let round = 0; round < 3; round++) {
        const response = await pool.send(url, {
          method: "GET",
          headers: {},
          stallTimeoutMs: 10_000,
        });
        // Nobody reads until the server has sent everything and closed.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const parts: Buffer[] = [];
        while (true) {
          const buffer = Buffer.alloc(10_000);
          const count = await response.body.fill(buffer, 0, buffer.length);
          if (count === 0) break;
          parts.push(buffer.subarray(0, count));
        }
        expect(sha(Buffer.concat(parts))).toBe(sha(body));
      }
    } finally {
      pool.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
