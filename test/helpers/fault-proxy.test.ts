import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "./fault-proxy.js";
import { closeServer, listenOnLoopback } from "./loopback.js";

/** Settles after every pending microtask and I/O callback already queued (no timer). */
const nextTurn = () => new Promise<"pending">((resolve) => setImmediate(() => resolve("pending")));

describe("the fault proxy's byte counts (a test helper)", () => {
  let upstream: http.Server;
  let proxy: FaultProxy;

  beforeAll(async () => {
    upstream = http.createServer((_request, response) => response.end(Buffer.alloc(1000, 7)));
    proxy = await startFaultProxy(`http://127.0.0.1:${await listenOnLoopback(upstream)}`);
  });
  afterAll(async () => {
    await proxy?.stop();
    await closeServer(upstream);
  });

  const fetchBlob = async () => (await fetch(`${proxy.url}/v2/x/blobs/a`)).arrayBuffer();

  it("waitForBytes resolves at once for bytes already forwarded, later for bytes to come", async () => {
    await fetchBlob();
    expect(proxy.bytesSent.get("/v2/x/blobs/a")).toBe(1000);
    // Already there: resolved before the next turn of the event loop (it used to wait forever).
    const already = proxy.waitForBytes("/blobs/a", 1000).then(() => "resolved" as const);
    expect(await Promise.race([already, nextTurn()])).toBe("resolved");
    // Not there yet: pending until the next response is forwarded.
    const more = proxy.waitForBytes("/blobs/a", 2000).then(() => "resolved" as const);
    expect(await Promise.race([more, nextTurn()])).toBe("pending");
    await fetchBlob();
    expect(await more).toBe("resolved");
  });
});
