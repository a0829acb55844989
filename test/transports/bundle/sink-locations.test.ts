import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256Digest } from "../../../src/digest/sha256.js";
import { copyImages } from "../../../src/engine/copy.js";
import { planImage } from "../../../src/engine/plan.js";
import { BundleReader } from "../../../src/transports/bundle/reader.js";
import { BundleSink } from "../../../src/transports/bundle/sink.js";
import { DirectoryFiles } from "../../../src/transports/layout/layout-files.js";
import { LayoutSource } from "../../../src/transports/layout/source.js";
import type { Descriptor } from "../../../src/types/descriptor.js";
import { MediaType } from "../../../src/types/media-types.js";
import type { BlobLocation, BlobWriter, Sink } from "../../../src/types/transport.js";
import { tempDir } from "../../helpers/cli.js";
import { threeImageLayout } from "../../helpers/oci-layout.js";
import { sinkWithWriter } from "../../helpers/open-files.js";

const MiB = 1024 * 1024;

function layer(bytes: Buffer): Descriptor {
  return { mediaType: MediaType.OciLayer, digest: sha256Digest(bytes), size: bytes.length };
}

/** `length` bytes of `file` from `offset`, read now (the file may still be being written). */
async function bytesAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Write `content` through `writer` in `chunk`-byte writes from one reused buffer. */
async function writeChunk(
  writer: BlobWriter,
  content: Buffer,
  at: number,
  buffer: Buffer,
): Promise<number> {
  const length = content.copy(buffer, 0, at, at + buffer.length);
  await writer.write(buffer, length);
  buffer.fill(0);
  return at + length;
}

describe("BundleSink blob locations", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("a single-file bundle takes several blobs at once; each writer's location holds its bytes as they are written, and written.locations after commit", async () => {
    const target = path.join(tmp.dir, "located.zip");
    const sink = await BundleSink.create(target, { tool: "ferry test" });
    expect(sink.maxConcurrentBlobs).toBeGreaterThan(1);
    const big = randomBytes(2 * MiB + 3);
    const small = randomBytes(70 * 1024);
    const [bigWriter, smallWriter] = await Promise.all([
      sink.blobWriter(layer(big)),
      sink.blobWriter(layer(small)),
    ]);
    const bigAt = bigWriter.location as BlobLocation;
    const smallAt = smallWriter.location as BlobLocation;
    expect(bigAt.file).toMatch(/located\.zip\..*\.tmp$/);
    expect(smallAt.file).toBe(bigAt.file);
    expect(smallAt.offset).toBeGreaterThan(bigAt.offset + big.length);

    // Interleaved writes; after each, the bytes so far are at the location in the temp file.
    const bigBuffer = Buffer.alloc(MiB);
    const smallBuffer = Buffer.alloc(16 * 1024);
    let bigDone = 0;
    let smallDone = 0;
    while (bigDone < big.length || smallDone < small.length) {
      if (bigDone < big.length) bigDone = await writeChunk(bigWriter, big, bigDone, bigBuffer);
      if (smallDone < small.length) {
        smallDone = await writeChunk(smallWriter, small, smallDone, smallBuffer);
      }
      expect(
        (await bytesAt(bigAt.file, bigAt.offset, bigDone)).equals(big.subarray(0, bigDone)),
      ).toBe(true);
      expect(
        (await bytesAt(smallAt.file, smallAt.offset, smallDone)).equals(
          small.subarray(0, smallDone),
        ),
      ).toBe(true);
    }
    await smallWriter.finish();
    await bigWriter.finish();
    const manifestBytes = Buffer.from('{"schemaVersion":2}');
    const manifest: Descriptor = {
      mediaType: MediaType.OciManifest,
      digest: sha256Digest(manifestBytes),
      size: manifestBytes.length,
    };
    await sink.putManifest(manifest, manifestBytes);
    await sink.commit();

    expect(existsSync(bigAt.file)).toBe(false);
    const locations = sink.written?.locations;
    expect(locations?.size).toBe(3);
    const whole = readFileSync(target);
    for (const [bytes, descriptor] of [
      [big, layer(big)],
      [small, layer(small)],
      [manifestBytes, manifest],
    ] as const) {
      const at = locations?.get(descriptor.digest);
      expect(at?.file).toBe(target);
      const offset = at?.offset ?? -1;
      expect(whole.subarray(offset, offset + bytes.length).equals(bytes)).toBe(true);
    }
    expect(locations?.get(layer(big).digest)?.offset).toBe(bigAt.offset);
  });

  it("split volumes take one blob at a time and name no location", async () => {
    const target = path.join(tmp.dir, "split.zip");
    const sink = await BundleSink.create(target, { tool: "ferry test", split: { partSize: MiB } });
    expect(sink.maxConcurrentBlobs).toBe(1);
    const bytes = randomBytes(1000);
    const writer = await sink.blobWriter(layer(bytes));
    expect(writer.location).toBeUndefined();
    await writer.write(bytes, bytes.length);
    await writer.finish();
    await sink.commit();
    expect(sink.written?.parts).toBeDefined();
    expect(sink.written?.locations).toBeUndefined();
  });

  it("a copy by the engine writes blobs concurrently; every location holds its blob, during the copy and in the bundle", async () => {
    const layoutDir = path.join(tmp.dir, "layout");
    threeImageLayout(layoutDir, { base: 3 * MiB, own: 200 * 1024 });
    const source = await LayoutSource.open(new DirectoryFiles(layoutDir), {
      transport: `oci:${layoutDir}`,
      fallbackRepository: "localhost/fixture",
    });
    const plans = await Promise.all(
      (await source.images()).map((image) => planImage(source, image, { platforms: "all" })),
    );
    const target = path.join(tmp.dir, "copied.zip");
    const sink = await BundleSink.create(target, { tool: "ferry test" });
    const watched = watchWriters(sink);
    const result = await copyImages(watched.sink, plans, { jobs: 4 });
    await source.close();
    expect(result.committed).toBe(true);
    expect(watched.mismatches).toEqual([]);
    expect(watched.mostOpen).toBeGreaterThan(1);

    const whole = readFileSync(target);
    const locations = sink.written?.locations ?? new Map<string, BlobLocation>();
    const blobs = sink.written?.manifest.blobs ?? [];
    expect(blobs.length).toBeGreaterThan(0);
    for (const blob of blobs) {
      const at = locations.get(blob.digest);
      expect(at?.file).toBe(target);
      const offset = at?.offset ?? -1;
      expect(sha256Digest(whole.subarray(offset, offset + blob.size))).toBe(blob.digest);
    }
    const reader = await BundleReader.open(target);
    await reader.close();
  });
});

/**
 * The sink with every blob writer watched: after each write, the bytes written so far must be
 * at the writer's location (read back from the temp file before the caller reuses its buffer).
 */
function watchWriters(sink: BundleSink): { sink: Sink; mismatches: string[]; mostOpen: number } {
  const watched = { sink: sink as Sink, mismatches: [] as string[], mostOpen: 0 };
  let open = 0;
  const openWriter = async (descriptor: Descriptor): Promise<BlobWriter> => {
    const writer = await sink.blobWriter(descriptor);
    const at = writer.location as BlobLocation;
    open++;
    watched.mostOpen = Math.max(watched.mostOpen, open);
    let written = 0;
    return {
      location: at,
      write: async (buffer, length) => {
        await writer.write(buffer, length);
        const back = await bytesAt(at.file, at.offset + written, length);
        if (!back.equals(buffer.subarray(0, length))) {
          watched.mismatches.push(`${descriptor.digest} at ${written}`);
        }
        written += length;
      },
      finish: async () => {
        open--;
        await writer.finish();
      },
      discard: async () => {
        open--;
        await writer.discard();
      },
    };
  };
  watched.sink = sinkWithWriter(sink, openWriter);
  return watched;
}
