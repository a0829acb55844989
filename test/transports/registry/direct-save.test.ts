/**
 * A save into one bundle file downloads its layers straight into it: the cache keeps no second
 * copy but a pointer to each verified blob in the finished bundle, used by later saves while
 * that file is the one it was. (The image config, read by the planner, is copied: it is small.)
 * Failures and resumes in this mode: faults.test.ts, both modes.
 */

import { randomBytes } from "node:crypto";
import { open, readdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BlobCache } from "../../../src/cache/blob-cache.js";
import { copyImages } from "../../../src/engine/copy.js";
import { planImage } from "../../../src/engine/plan.js";
import { listCache } from "../../../src/ops/registry-cache.js";
import { RegistrySource } from "../../../src/transports/registry/source.js";
import type { BlobReader, BlobWriter, Sink, SourceImage } from "../../../src/types/transport.js";
import { makeImage, pushImage, type TestImage } from "../../helpers/registry.js";
import {
  copiedDigests,
  saveRefs,
  tempDir,
  testSession,
  unzipAndCheck,
  withProxiedRegistry,
} from "./fixtures.js";

const MiB = 1024 * 1024;

describe("a save straight into its bundle", () => {
  let image: TestImage;
  let big: string;
  let layers: string[];
  let config: string;

  const net = withProxiedRegistry(async (url) => {
    image = makeImage({ layers: [randomBytes(3 * MiB + 5), randomBytes(20_000)] });
    big = image.layers[0]?.digest ?? "";
    layers = image.layers.map((layer) => layer.digest);
    config = [...image.blobs.keys()].find((digest) => !layers.includes(digest)) ?? "";
    await pushImage(url, "direct/app", "1", image);
    const other = makeImage({ layers: [randomBytes(2 * MiB), randomBytes(30_000)] });
    await pushImage(url, "direct/other", "1", other);
  });

  const ref = () => `${net.proxy.host}/direct/app:1`;
  const blobRequests = () => net.proxy.requests.filter((r) => r.path.includes("/blobs/"));

  async function save(cache: string, output: string) {
    const session = await testSession(cache, { direct: true });
    try {
      await saveRefs(session, { refs: [ref()], output });
      return session.stats;
    } finally {
      await session.close();
    }
  }

  async function keptIn(cache: string): Promise<Map<string, string | undefined>> {
    const { blobs } = await (await BlobCache.open(cache)).list();
    return new Map(blobs.map((blob) => [blob.digest as string, blob.keptIn]));
  }

  it("keeps pointers into the bundle, no copies; the next save reads the blobs from there", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const first = join(dir, "a.zip");
    net.proxy.clear();
    await save(cache, first);
    expect((await unzipAndCheck(first)).blobs.get(big)).toBe(3 * MiB + 5);
    expect(await copiedDigests(cache)).toEqual([config]);
    const firstPath = await realpath(first);
    const pointers = await keptIn(cache);
    expect([...pointers.keys()].sort()).toEqual([...image.blobs.keys()].sort());
    for (const layer of layers) expect(pointers.get(layer)).toBe(firstPath);
    // `cache ls` counts only what the cache itself holds: the config's copy.
    expect((await listCache(cache)).bytes).toBe(image.blobs.get(config)?.length);
    expect(await readdir(join(cache, "partial"))).toEqual([]);
    expect(await readdir(join(cache, "journal"))).toEqual([]);
    expect(blobRequests().length).toBe(image.blobs.size);

    net.proxy.clear();
    const second = join(dir, "b.zip");
    const stats = await save(cache, second);
    expect(blobRequests()).toEqual([]);
    expect(stats.blobsFromCache).toBe(image.blobs.size);
    expect((await unzipAndCheck(second)).blobs.get(big)).toBe(3 * MiB + 5);
    // The pointers follow the newest bundle.
    const now = await keptIn(cache);
    for (const layer of layers) expect(now.get(layer)).toBe(await realpath(second));
  });

  it("a pointer into a file that changed is dropped and the blob downloaded again", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const bundle = join(dir, "a.zip");
    await save(cache, bundle);
    await writeFile(bundle, "something else now");
    net.proxy.clear();
    const stats = await save(cache, join(dir, "b.zip"));
    // Only the config (a copy in the cache) is not downloaded again.
    expect(stats.blobsFromCache).toBe(1);
    expect(blobRequests().length).toBe(layers.length);
    await unzipAndCheck(join(dir, "b.zip"));
  });

  it("--jobs 1, two images: one download at a time, each read as it arrives", async () => {
    // Downloads started ahead of the engine (one queue per image) once took the only slot
    // while the engine waited for another blob: a save that never ended.
    const dir = await tempDir();
    const session = await testSession(join(dir, "cache"), { direct: true, jobs: 1 });
    const refs = [ref(), `${net.proxy.host}/direct/other:1`];
    try {
      await saveRefs(session, { refs, output: join(dir, "a.zip"), jobs: 1 });
    } finally {
      await session.close();
    }
    expect((await unzipAndCheck(join(dir, "a.zip"))).blobs.get(big)).toBe(3 * MiB + 5);
  }, 20_000);

  it("a write that fails after the engine read the whole blob keeps what landed, to resume from", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const session = await testSession(cache, { direct: true });
    const source = new RegistrySource(session, ref());
    // The premise, observed rather than waited for: the engine's reads reach the blob's end.
    let readToEnd: () => void = () => {};
    const engineReadAll = new Promise<void>((resolve) => {
      readToEnd = resolve;
    });
    const openReader = source.blobReader.bind(source);
    source.blobReader = async (descriptor) => {
      const reader = await openReader(descriptor);
      if (descriptor.digest !== big) return reader;
      const watched: BlobReader = Object.create(reader);
      watched.read = async (buffer, offset, length, position) => {
        const count = await reader.read(buffer, offset, length, position);
        if (position + count >= descriptor.size) readToEnd();
        return count;
      };
      return watched;
    };
    const landing = join(dir, "landing.bin");
    const handle = await open(landing, "w");
    let bigWrites = 0;
    let position = 0;
    const memoryWriter: BlobWriter = {
      write: async () => {},
      finish: async () => {},
      discard: async () => {},
    };
    const sink: Sink = {
      label: "a disk that fills up",
      maxConcurrentBlobs: 4,
      hasBlob: async () => false,
      putBlob: async (_descriptor, stream) => {
        for await (const _chunk of stream) {
          // taken
        }
      },
      putManifest: async () => {},
      addImage: () => {},
      commit: async () => {},
      abort: () => session.salvage(),
      blobWriter: async (descriptor) => {
        if (descriptor.digest !== big) return memoryWriter;
        return {
          location: { file: landing, offset: 0 },
          write: async (buffer, length) => {
            if (++bigWrites === 2) {
              // The engine reads ahead of its writes: it gets to the blob's end meanwhile.
              await engineReadAll;
              throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
            }
            await handle.write(buffer, 0, length, position);
            position += length;
          },
          finish: async () => {},
          discard: async () => {},
        };
      },
    };
    try {
      const [image] = await source.images();
      const plan = await planImage(source, image as SourceImage, {
        platforms: [{ os: "linux", architecture: "amd64" }],
      });
      await expect(copyImages(sink, [plan])).rejects.toThrow(/no space/);
    } finally {
      await handle.close();
      await source.close();
      await session.close();
    }
    const partial = await readFile(join(cache, "partial", big.slice(7)));
    expect(partial.length).toBe(MiB);
    expect(partial.equals((await readFile(landing)).subarray(0, MiB))).toBe(true);
  });

  it("the bundle directory holds only the bundle afterwards (no temp files)", async () => {
    const dir = await tempDir();
    await save(join(dir, "cache"), join(dir, "a.zip"));
    expect((await readdir(dir)).sort()).toEqual(["a.zip", "cache"]);
  });
});
