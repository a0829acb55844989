import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import { RawPool } from "../../../src/transports/registry/raw-http.js";
import { makeImage, pushImage, type TestImage } from "../../helpers/registry.js";
import {
  blobBodiesOver,
  cachedDigests,
  saveRefs,
  tempDir,
  testSession,
  unzipAndCheck,
  withProxiedRegistry,
} from "./fixtures.js";

const MiB = 1024 * 1024;
/**
 * Stall timeouts: long enough that a busy machine never stalls a healthy request (the stall
 * faults below hold their connection open for good, so this only sets how long they wait).
 */
const STALL_MS = 2_000;

/**
 * Every fault in both download modes, and both ways blob bodies are read: ferry's raw HTTP
 * client, and node:http (the `FERRY_BLOB_HTTP=node` fallback users can turn on).
 */
describe.each([
  { mode: "through the cache's partial files", direct: false, blobHttp: "raw" },
  { mode: "straight into the bundle", direct: true, blobHttp: "raw" },
  { mode: "through the cache's partial files", direct: false, blobHttp: "node" },
  { mode: "straight into the bundle", direct: true, blobHttp: "node" },
] as const)(
  "registry downloads through a fault-injecting proxy ($mode, blob bodies over $blobHttp)",
  ({ direct, blobHttp }) => {
    let image: TestImage;
    let big: string;
    let bigPath: RegExp;
    const bigSize = 4 * MiB;

    const net = withProxiedRegistry(async (url) => {
      const layer = randomBytes(bigSize);
      image = makeImage({ layers: [layer, randomBytes(10_000)] });
      big = image.layers[0]?.digest ?? "";
      bigPath = new RegExp(`/blobs/${big}$`);
      await pushImage(url, "flaky/app", "1", image);
    });

    afterEach(() => net.proxy.clear());

    blobBodiesOver(blobHttp);

    const ref = () => `${net.proxy.host}/flaky/app:1`;
    const blobRequests = () => net.proxy.requests.filter((r) => r.path.endsWith(big));

    async function saveThroughProxy(options: { retries?: number; stallMs?: number } = {}) {
      const dir = await tempDir();
      const cache = join(dir, "cache");
      const session = await testSession(cache, {
        direct,
        ...(options.retries !== undefined
          ? { retry: { retries: options.retries, baseDelayMs: 20, maxDelayMs: 100 } }
          : {}),
        ...(options.stallMs ? { stallTimeoutMs: options.stallMs } : {}),
      });
      const output = join(dir, "out.zip");
      try {
        const result = await saveRefs(session, { refs: [ref()], output });
        return { dir, cache, output, session, result, error: undefined as unknown };
      } catch (error) {
        return { dir, cache, output, session, result: undefined, error };
      } finally {
        await session.close();
      }
    }

    it(`blob bodies are read with ${blobHttp === "raw" ? "the raw client" : "node:http"}`, async () => {
      const rawSend = vi.spyOn(RawPool.prototype, "send");
      try {
        const { output, error } = await saveThroughProxy();
        expect(error).toBeUndefined();
        await unzipAndCheck(output);
        if (blobHttp === "raw") expect(rawSend).toHaveBeenCalled();
        else expect(rawSend).not.toHaveBeenCalled();
      } finally {
        rawSend.mockRestore();
      }
    });

    it("a connection reset mid-blob resumes with a Range request and completes with the right bytes", async () => {
      net.proxy.add({ match: bigPath, fault: { kind: "reset", afterBytes: MiB + 123 } });
      const { output, error } = await saveThroughProxy();
      expect(error).toBeUndefined();
      const { blobs } = await unzipAndCheck(output);
      expect(blobs.get(big)).toBe(bigSize);
      const requests = blobRequests();
      expect(requests).toHaveLength(2);
      expect(requests[1]?.range).toMatch(/^bytes=\d+-$/);
      const resumedAt = Number(/bytes=(\d+)-/.exec(requests[1]?.range ?? "")?.[1]);
      expect(resumedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(MiB + 123);
      // Only the rest was fetched again.
      expect(net.proxy.bytesSent.get(`/v2/flaky/app/blobs/${big}`)).toBe(
        MiB + 123 + bigSize - resumedAt,
      );
    });

    it("500 and 503 answers are retried", async () => {
      net.proxy.add({ match: bigPath, fault: { kind: "status", status: 500 } });
      net.proxy.add({ match: bigPath, fault: { kind: "status", status: 503 } });
      const { output, error } = await saveThroughProxy();
      expect(error).toBeUndefined();
      expect(blobRequests()).toHaveLength(3);
      await unzipAndCheck(output);
    });

    it("429 with Retry-After is honoured", async () => {
      net.proxy.add({
        match: /\/manifests\/1$/,
        fault: { kind: "status", status: 429, headers: { "Retry-After": "1" } },
      });
      const started = performance.now();
      const { error } = await saveThroughProxy();
      expect(error).toBeUndefined();
      // A lower bound only (the second waited for): a slow machine can only add to it.
      expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
      expect(net.proxy.requests.filter((r) => r.path.endsWith("/manifests/1"))).toHaveLength(2);
    });

    it("a stalled download times out and resumes", async () => {
      net.proxy.add({ match: bigPath, fault: { kind: "stall", afterBytes: 2 * MiB } });
      const { output, error } = await saveThroughProxy({ stallMs: STALL_MS });
      expect(error).toBeUndefined();
      const requests = blobRequests();
      expect(requests).toHaveLength(2);
      expect(requests[1]?.range).toMatch(/^bytes=\d+-$/);
      await unzipAndCheck(output);
    });

    it("wrong bytes: EINTEGRITY naming the blob and where they came from, nothing kept; the next run downloads afresh", async () => {
      net.proxy.add({ match: bigPath, fault: { kind: "corrupt", atByte: 3 * MiB } });
      const first = await saveThroughProxy();
      expect(isFerryError(first.error) && first.error.code).toBe("EINTEGRITY");
      expect((first.error as Error).message).toContain(big);
      expect((first.error as Error).message).toContain(`${net.proxy.host}/flaky/app`);
      await expect(stat(first.output)).rejects.toThrow();
      expect(await cachedDigests(first.cache)).not.toContain(big);
      const partials = await readdir(join(first.cache, "partial"));
      expect(partials.filter((name) => name.startsWith(big.slice(7)))).toEqual([]);
      // The same cache again: the blob comes from the start, right this time.
      const session = await testSession(first.cache, { direct });
      try {
        await saveRefs(session, { refs: [ref()], output: join(first.dir, "again.zip") });
      } finally {
        await session.close();
      }
      const requests = blobRequests();
      expect(requests).toHaveLength(2);
      expect(requests[1]?.range).toBeUndefined();
      const { blobs } = await unzipAndCheck(join(first.dir, "again.zip"));
      expect(blobs.get(big)).toBe(bigSize);
      expect(await cachedDigests(first.cache)).toContain(big);
    });

    it("wrong bytes every time: EINTEGRITY naming the blob; nothing in the bundle or the cache", async () => {
      net.proxy.add({
        match: bigPath,
        fault: { kind: "corrupt", atByte: 10 },
        times: Number.POSITIVE_INFINITY,
      });
      const { output, cache, error } = await saveThroughProxy();
      expect(isFerryError(error) && error.code).toBe("EINTEGRITY");
      expect((error as Error).message).toContain(big);
      expect((error as Error).message).toContain("flaky/app");
      await expect(stat(output)).rejects.toThrow();
      expect(await cachedDigests(cache)).not.toContain(big);
      const partials = await readdir(join(cache, "partial"));
      expect(partials.filter((name) => big.endsWith(name))).toEqual([]);
    });

    it("more bytes than declared: ESIZE naming the blob, nothing kept", async () => {
      net.proxy.add({
        match: bigPath,
        times: Number.POSITIVE_INFINITY,
        fault: {
          kind: "respond",
          handler: (_req, res) => {
            res.writeHead(200, { "Content-Type": "application/octet-stream" });
            res.end(Buffer.alloc(bigSize + 10));
          },
        },
      });
      const { output, cache, error } = await saveThroughProxy();
      expect(isFerryError(error) && error.code).toBe("ESIZE");
      expect((error as Error).message).toContain(big);
      await expect(stat(output)).rejects.toThrow();
      expect(await cachedDigests(cache)).not.toContain(big);
    });

    it("a registry that keeps failing: the error names the blob and the attempts", async () => {
      net.proxy.add({
        match: bigPath,
        fault: { kind: "status", status: 503 },
        times: Number.POSITIVE_INFINITY,
      });
      const { output, error } = await saveThroughProxy({ retries: 2 });
      expect(isFerryError(error) && error.code).toBe("EREGISTRY");
      expect((error as Error).message).toContain(`blob ${big}`);
      expect((error as Error).message).toMatch(/HTTP 503.*gave up after 3 attempts/);
      expect(blobRequests()).toHaveLength(3);
      await expect(stat(output)).rejects.toThrow();
    });

    it("a cut download left in the cache resumes in the next run, fetching only the rest", async () => {
      const dir = await tempDir();
      const cache = join(dir, "cache");
      net.proxy.add({
        match: bigPath,
        fault: { kind: "stall", afterBytes: 3 * MiB },
        times: Number.POSITIVE_INFINITY,
      });
      const first = await testSession(cache, {
        direct,
        retry: { retries: 0 },
        stallTimeoutMs: STALL_MS,
      });
      const error = await saveRefs(first, { refs: [ref()], output: join(dir, "a.zip") }).catch(
        (e: unknown) => e,
      );
      await first.close();
      expect(isFerryError(error) && error.code).toBe("ENETWORK");
      const partial = await stat(join(cache, "partial", big.slice(7)));
      expect(partial.size).toBeGreaterThan(2 * MiB);
      net.proxy.clear();
      const second = await testSession(cache, { direct });
      try {
        await saveRefs(second, { refs: [ref()], output: join(dir, "b.zip") });
        expect(blobRequests()).toHaveLength(1);
        expect(blobRequests()[0]?.range).toBe(`bytes=${partial.size}-`);
        expect(net.proxy.bytesSent.get(`/v2/flaky/app/blobs/${big}`)).toBe(bigSize - partial.size);
        // The small layer and the config were all there (downloaded, never verified by a copy
        // in the failed run): they are read from their partials, no network.
        const others = [...image.blobs.values()].filter((b) => b.length !== bigSize);
        expect(second.stats).toMatchObject({
          blobsResumed: 1,
          bytesResumed: partial.size,
          bytesDownloaded: bigSize - partial.size,
          blobsFromCache: others.length,
          bytesFromCache: others.reduce((sum, b) => sum + b.length, 0),
        });
        await unzipAndCheck(join(dir, "b.zip"));
      } finally {
        await second.close();
      }
    });
  },
);
