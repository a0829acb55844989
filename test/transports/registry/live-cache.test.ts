/**
 * Downloads the copy engine reads while they grow, and the download cache's rule: a blob is
 * published under its digest only after the engine verified the bytes it read from the
 * download; whatever the engine rejects is deleted and named.
 */

import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BlobCache } from "../../../src/cache/blob-cache.js";
import { isFerryError } from "../../../src/errors.js";
import { pullImages } from "../../../src/ops/pull.js";
import { LiveDownload } from "../../../src/transports/registry/live-download.js";
import type { Descriptor } from "../../../src/types/descriptor.js";
import { makeImage, pushImage, sha256, type TestImage } from "../../helpers/registry.js";
import {
  cachedDigests,
  removeTempDirs,
  saveRefs,
  tempDir,
  testSession,
  unzipAndCheck,
  withProxiedRegistry,
} from "./fixtures.js";

const MiB = 1024 * 1024;
/** Let every queued microtask and I/O callback run (no clock involved). */
const turn = () => new Promise((r) => setImmediate(r));

/**
 * Reads parked until the download moves (waiting on it, not reading the file): what "the read
 * waits" means, observed instead of guessed from a pause that may be too short.
 */
function parkedReads(live: LiveDownload): number {
  const waiters = (live as unknown as { waiters?: unknown[] }).waiters;
  if (!Array.isArray(waiters)) throw new Error("LiveDownload no longer keeps `waiters`");
  return waiters.length;
}

describe("a download read while it grows", () => {
  afterAll(removeTempDirs);

  async function liveBlob(bytes: Buffer) {
    const cache = await BlobCache.open(join(await tempDir(), "cache"));
    const descriptor: Descriptor = {
      mediaType: "application/octet-stream",
      digest: sha256(bytes) as Descriptor["digest"],
      size: bytes.length,
    };
    const claim = await cache.claimPartial(descriptor);
    const live = new LiveDownload(descriptor);
    live.attach(claim);
    return { cache, claim, live, descriptor };
  }

  it("hands out bytes as they are written, the last one only when the download ended", async () => {
    const bytes = randomBytes(3000);
    const { claim, live } = await liveBlob(bytes);
    const reader = await live.reader();
    const buffer = Buffer.alloc(3000);
    const first = reader.read(buffer, 0, 3000, 0);
    await turn();
    expect(parkedReads(live), "a read before any byte waits for the download").toBe(1);
    await claim.file.append([bytes.subarray(0, 1000)]);
    expect(await first).toBe(1000);
    await claim.file.append([bytes.subarray(1000)]);
    // All bytes are on disk, but the download has not ended: the last one waits.
    expect(await reader.read(buffer, 1000, 2000, 1000)).toBe(1999);
    const last = reader.read(buffer, 2999, 1, 2999);
    await turn();
    expect(parkedReads(live), "the last byte waits for the end of the download").toBe(1);
    live.finish("test");
    expect(await last).toBe(1);
    expect(buffer.equals(bytes)).toBe(true);
    expect(live.readToEnd).toBe(true);
    expect(await reader.read(buffer, 0, 10, 3000)).toBe(0);
    await reader.close();
    await claim.release("discard");
  });

  it("waits again when the download starts over, and fails with the download's error", async () => {
    const bytes = randomBytes(5000);
    const { claim, live } = await liveBlob(bytes);
    const reader = await live.reader();
    await claim.file.append([bytes.subarray(0, 2000)]);
    const buffer = Buffer.alloc(5000);
    expect(await reader.read(buffer, 0, 1500, 0)).toBe(1500);
    await claim.file.reset();
    const after = reader.read(buffer, 1500, 3500, 1500);
    await turn();
    expect(parkedReads(live), "after the reset, byte 1500 is not there").toBe(1);
    await claim.file.append([bytes.subarray(0, 1200)]);
    await turn();
    expect(parkedReads(live), "1200 bytes again: byte 1500 is still not there").toBe(1);
    await claim.file.append([bytes.subarray(1200, 3000)]);
    expect(await after).toBe(1500);
    expect(buffer.subarray(0, 3000).equals(bytes.subarray(0, 3000))).toBe(true);
    const failing = reader.read(buffer, 3000, 2000, 3000);
    live.fail(new Error("network gone"));
    await expect(failing).rejects.toThrow("network gone");
    await reader.close();
    await claim.release("discard");
  });
});

describe("the download cache takes only what the copy verified", () => {
  let image: TestImage;
  let big: string;
  const bigSize = 3 * MiB + 5;

  const net = withProxiedRegistry(async (url) => {
    image = makeImage({ layers: [randomBytes(bigSize), randomBytes(20_000)] });
    big = image.layers[0]?.digest ?? "";
    await pushImage(url, "live/app", "1", image);
  });

  const ref = () => `${net.proxy.host}/live/app:1`;
  const bigRequests = () => net.proxy.requests.filter((r) => r.path.endsWith(big));

  it("a save publishes every blob it copied, and leaves no partial behind", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const session = await testSession(cache);
    try {
      await saveRefs(session, { refs: [ref()], output: join(dir, "a.zip") });
    } finally {
      await session.close();
    }
    expect((await cachedDigests(cache)).sort()).toEqual([...image.blobs.keys()].sort());
    expect(await readdir(join(cache, "partial"))).toEqual([]);
    const cached = await readFile(join(cache, "blobs", "sha256", big.slice(7)));
    expect(sha256(cached)).toBe(big);
  });

  it("a finished download an earlier run left unverified is read without the network; wrong, it is deleted and named", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    await mkdir(join(cache, "partial"), { recursive: true });
    const partial = join(cache, "partial", big.slice(7));
    await writeFile(partial, randomBytes(bigSize));
    net.proxy.clear();
    const first = await testSession(cache);
    const error = await saveRefs(first, { refs: [ref()], output: join(dir, "a.zip") }).catch(
      (e: unknown) => e,
    );
    await first.close();
    expect(isFerryError(error) && error.code).toBe("EINTEGRITY");
    expect((error as Error).message).toContain(big);
    expect((error as Error).message).toContain("a download an earlier run left in the cache");
    expect(bigRequests()).toHaveLength(0);
    await expect(stat(partial)).rejects.toThrow();
    expect(await cachedDigests(cache)).not.toContain(big);

    const second = await testSession(cache);
    try {
      await saveRefs(second, { refs: [ref()], output: join(dir, "b.zip") });
      expect(second.stats.bytesDownloaded).toBeGreaterThanOrEqual(bigSize);
    } finally {
      await second.close();
    }
    expect(bigRequests()).toHaveLength(1);
    expect((await unzipAndCheck(join(dir, "b.zip"))).blobs.get(big)).toBe(bigSize);
    expect(await cachedDigests(cache)).toContain(big);
  });

  it("a damaged cache entry from an earlier run is removed with advice", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const first = await testSession(cache);
    await saveRefs(first, { refs: [ref()], output: join(dir, "a.zip") });
    await first.close();
    const entry = join(cache, "blobs", "sha256", big.slice(7));
    const bytes = await readFile(entry);
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    await writeFile(entry, bytes);
    const second = await testSession(cache);
    const error = await saveRefs(second, { refs: [ref()], output: join(dir, "b.zip") }).catch(
      (e: unknown) => e,
    );
    await second.close();
    expect(isFerryError(error) && error.code).toBe("EINTEGRITY");
    expect((error as Error).message).toContain("was damaged");
    await expect(stat(entry)).rejects.toThrow();
  });

  it("pull: the same rule with the store (several blobs at once)", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const session = await testSession(cache);
    try {
      const report = await pullImages([ref()], {
        storeDir: join(dir, "store"),
        platforms: [{ os: "linux", architecture: "amd64" }],
        session,
      });
      expect(report.images[0]?.digest).toBe(image.digest);
    } finally {
      await session.close();
    }
    expect((await cachedDigests(cache)).sort()).toEqual([...image.blobs.keys()].sort());
    expect(await readdir(join(cache, "partial"))).toEqual([]);
    const stored = await readFile(join(dir, "store", "blobs", "sha256", big.slice(7)));
    expect(sha256(stored)).toBe(big);
  });
});
