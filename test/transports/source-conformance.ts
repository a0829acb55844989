/**
 * The source conformance suite: what every `Source` (src/types/transport.ts) must do, run on a
 * real medium of each transport by ./sources.test.ts (the sinks have ./conformance.ts). A new
 * source is one `describeSource(...)` call there: a factory that builds its medium from the
 * fixture images (./source-fixture.ts) and opens it the way users reach it (the transport table, or what the ops do).
 *
 * Every source: offers its images, each root named by the digest of its manifest's bytes;
 * serves every manifest byte-exact (the medium's own bytes, or, where the source builds them,
 * the same bytes at every open); serves every blob whose bytes hash to its digest and size, as
 * a stream and, where it offers them, through positional reads at any offset; fails on an
 * unknown digest and on a damaged medium with a typed FerryError (the engine's EINTEGRITY for a
 * damaged blob); and holds no file open once closed (nor after a failed open).
 */

import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Digest } from "../../src/digest/sha256.js";
import { copyImages } from "../../src/engine/copy.js";
import { type ImagePlan, planImage } from "../../src/engine/plan.js";
import { released } from "../../src/engine/released.js";
import { type ErrorCode, FerryError, isFerryError } from "../../src/errors.js";
import { DiscardSink } from "../../src/transports/discard.js";
import type { Descriptor } from "../../src/types/descriptor.js";
import type { BlobReader, Source } from "../../src/types/transport.js";
import { tempDir } from "../helpers/cli.js";
import { openFilesUnder, openSockets, streamingDiscard } from "../helpers/open-files.js";
import {
  type FixtureLayout,
  OCI_GZIP_LAYER,
  OCI_MANIFEST,
  writeFixtureLayout,
} from "./source-fixture.js";

// ---------------------------------------------------------------------------------------------
// What a source under test offers the suite

/** One medium a source reads, built afresh from the fixture by a factory. */
export interface SourceMedium {
  /** Open the source the way users reach it. */
  open(): Promise<Source>;
  /** The names of the images the opened source must offer. */
  images: string[];
  /**
   * The exact bytes the medium holds for a manifest, read without ferry (the file, `tar`,
   * `unzip`, the registry's API). Only called when the factory says `manifests: "held"`.
   */
  heldManifest(digest: string): Promise<Buffer>;
  /** Flip a byte of a blob where the medium keeps its bytes (after the source was opened). */
  damageBlob(descriptor: Descriptor): Promise<void>;
  /**
   * Damage what the medium says about its images (its index, header, directory, a volume):
   * returns the code opening or planning it must then fail with.
   */
  damageStructure(): Promise<ErrorCode>;
  /**
   * The folder holding the medium's files and the source's own (temporary files, a download
   * cache): no handle on a file under it may outlive `close()`.
   */
  files: string;
}

export interface SourceFactory {
  /**
   * Whether the medium holds the manifests (`held`: the source serves the medium's own bytes)
   * or the source builds them (`built`: a docker save archive's classic layout, a WIM's
   * artifact; the same bytes at every open).
   */
  readonly manifests: "held" | "built";
  /** Whether the source offers positional reads of its blobs (`capabilities.blobReader`). */
  readonly positional: boolean;
  /** Before the source's tests (start a registry), and after them. */
  setUp?(): Promise<void>;
  tearDown?(): Promise<void>;
  /** Build a medium in the empty folder `dir` holding images of `fixture`. */
  make(dir: string, fixture: FixtureLayout): Promise<SourceMedium>;
}

// ---------------------------------------------------------------------------------------------
// Helpers the suite reads sources with

/** A source that also runs `release` when closed (a registry source's session). */
export function closingAlso(source: Source, release: () => Promise<void>): Source {
  return {
    label: source.label,
    ...(source.capabilities ? { capabilities: source.capabilities } : {}),
    images: () => source.images(),
    fetchManifest: (descriptor) => source.fetchManifest(descriptor),
    openBlob: (descriptor) => source.openBlob(descriptor),
    async close() {
      try {
        await source.close();
      } finally {
        await release();
      }
    },
  };
}

async function plansOf(source: Source): Promise<ImagePlan[]> {
  const plans: ImagePlan[] = [];
  for (const image of await source.images())
    plans.push(await planImage(source, image, { platforms: "all" }));
  return plans;
}

/** Every distinct blob of the plans (configs and layers). */
function blobsOf(plans: ImagePlan[]): Descriptor[] {
  const blobs = new Map<string, Descriptor>();
  for (const plan of plans)
    for (const blob of plan.blobs) blobs.set(blob.descriptor.digest, blob.descriptor);
  return [...blobs.values()];
}

/** A stream read to its end, and closed (its file released) before this resolves. */
async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const closed = new Promise<void>((resolve) => {
    if (stream.closed || stream.destroyed) resolve();
    else stream.once("close", () => resolve());
  });
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  await closed;
  return Buffer.concat(chunks);
}

/** Up to `length` bytes at `position`, fewer only where the blob ends. */
async function readAt(reader: BlobReader, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const n = await reader.read(buffer, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

const digestOf = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** What an action fails with (undefined when it does not). */
async function failureOf(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** `error` is a FerryError with `code` (shown with the error when it is not). */
function expectCode(error: unknown, code: ErrorCode): asserts error is FerryError {
  expect(error, String(error)).toBeInstanceOf(FerryError);
  expect((error as FerryError).code, (error as Error).message).toBe(code);
}

/** A descriptor no medium holds. */
const UNKNOWN: Descriptor = {
  mediaType: OCI_GZIP_LAYER,
  digest: sha256Digest(Buffer.from("in no medium of the conformance suite")),
  size: 37,
};

// ---------------------------------------------------------------------------------------------
// The suite

export function describeSource(name: string, factory: SourceFactory): void {
  describe(`${name} (source conformance)`, () => {
    const tmp = tempDir("ferry-source-");
    let fixture: FixtureLayout;
    let shared: SourceMedium;
    let made = 0;

    /** A medium of its own (for the tests that damage it). */
    const fresh = async (): Promise<SourceMedium> => {
      const dir = path.join(tmp.dir, `medium-${made++}`);
      await mkdir(dir);
      return factory.make(dir, fixture);
    };

    /** Open the medium, run `use` on the source, close it whatever happens. */
    const withSource = async <T>(
      medium: SourceMedium,
      use: (source: Source) => Promise<T>,
    ): Promise<T> => {
      const source = await medium.open();
      try {
        return await use(source);
      } finally {
        await source.close();
      }
    };

    beforeAll(async () => {
      await factory.setUp?.();
      fixture = writeFixtureLayout(path.join(tmp.dir, "fixture"));
      shared = await fresh();
    });
    afterAll(async () => {
      await factory.tearDown?.();
      tmp.cleanup();
    });

    it("images(): the medium's images, each root named by the digest and size of its bytes", async () => {
      await withSource(shared, async (source) => {
        const images = await source.images();
        expect(images.map((image) => image.name).sort()).toEqual([...shared.images].sort());
        for (const image of images) {
          const bytes = await source.fetchManifest(image.descriptor);
          expect(digestOf(bytes)).toBe(image.descriptor.digest);
          expect(bytes.length).toBe(image.descriptor.size);
          expect(image.origin).not.toBe("");
        }
        expect(await source.images()).toEqual(images);
      });
    });

    const exact =
      factory.manifests === "held"
        ? "the medium's own bytes"
        : "built the same at every open of the medium";
    it(`manifests byte-exact: every manifest, roots and children, hashes to its digest and is ${exact}`, async () => {
      const served = async () =>
        withSource(shared, async (source) => {
          const manifests = new Map<string, Buffer>();
          for (const plan of await plansOf(source)) {
            for (const { descriptor, bytes } of plan.manifests) {
              const fetched = await source.fetchManifest(descriptor);
              expect(digestOf(fetched)).toBe(descriptor.digest);
              expect(fetched.length).toBe(descriptor.size);
              expect(fetched.equals(bytes)).toBe(true);
              manifests.set(descriptor.digest, fetched);
            }
          }
          return manifests;
        });
      const first = await served();
      expect(first.size).toBeGreaterThan(0);
      if (factory.manifests === "held") {
        for (const [digest, bytes] of first)
          expect(bytes.equals(await shared.heldManifest(digest)), digest).toBe(true);
      } else {
        expect(await served()).toEqual(first);
      }
    });

    it("blobs streamed (openBlob): every blob's bytes hash to its digest and size", async () => {
      await withSource(shared, async (source) => {
        const blobs = blobsOf(await plansOf(source));
        expect(blobs.length).toBeGreaterThan(1);
        for (const blob of blobs) {
          const bytes = await drain(await source.openBlob(blob));
          expect(bytes.length, blob.digest).toBe(blob.size);
          expect(digestOf(bytes)).toBe(blob.digest);
        }
      });
    });

    if (factory.positional) {
      it("blobs read positionally (capabilities.blobReader): whole, at any offset, up to the end and none past it", async () => {
        await withSource(shared, async (source) => {
          const blobReader = source.capabilities?.blobReader;
          expect(blobReader, "the source offers positional reads").toBeDefined();
          if (!blobReader) return;
          let readers = 0;
          for (const blob of blobsOf(await plansOf(source))) {
            const streamed = await drain(await source.openBlob(blob));
            const reader = await blobReader(blob);
            if (!reader) continue; // not this blob (a compressed bundle entry): streamed only
            readers++;
            try {
              const { size } = blob;
              // Whole, in reads of an odd size that cross every chunk boundary.
              const parts: Buffer[] = [];
              for (let at = 0; at < size; at += 4093)
                parts.push(await readAt(reader, at, Math.min(4093, size - at)));
              const whole = Buffer.concat(parts);
              expect(whole.length, blob.digest).toBe(size);
              expect(digestOf(whole)).toBe(blob.digest);
              // Anywhere, two at once (the verified pump keeps several reads in flight).
              const offsets = [0, 1, Math.floor(size / 2), size - 1];
              const pieces = await Promise.all(
                offsets.map((at) => readAt(reader, at, Math.min(64, size - at))),
              );
              for (const [i, at] of offsets.entries())
                expect(pieces[i]?.equals(streamed.subarray(at, at + 64)), `at ${at}`).toBe(true);
              // Across the end: only what is there; at the end: nothing.
              const tail = Math.max(0, size - 5);
              expect((await readAt(reader, tail, 64)).equals(streamed.subarray(tail))).toBe(true);
              expect(await reader.read(Buffer.alloc(16), 0, 16, size)).toBe(0);
            } finally {
              await reader.close();
            }
          }
          expect(readers).toBeGreaterThan(0);
        });
      });
    } else {
      it("offers no positional reads: every blob is streamed", async () => {
        await withSource(shared, async (source) => {
          expect(source.capabilities?.blobReader).toBeUndefined();
        });
      });
    }

    it("an unknown digest: fetchManifest, openBlob and blobReader fail with ENOTFOUND naming it", async () => {
      await withSource(shared, async (source) => {
        const attempts: Array<[string, () => Promise<unknown>]> = [
          ["fetchManifest", () => source.fetchManifest({ ...UNKNOWN, mediaType: OCI_MANIFEST })],
          ["openBlob", async () => drain(await source.openBlob(UNKNOWN))],
        ];
        const blobReader = source.capabilities?.blobReader;
        if (blobReader) {
          attempts.push([
            "blobReader",
            async () => {
              const reader = await blobReader(UNKNOWN);
              if (!reader) throw new Error("no reader for an unknown blob, and no error");
              try {
                await readAt(reader, 0, UNKNOWN.size);
              } finally {
                await reader.close();
              }
            },
          ]);
        }
        for (const [how, attempt] of attempts) {
          const error = await failureOf(attempt);
          expectCode(error, "ENOTFOUND");
          expect(error.message, how).toContain(UNKNOWN.digest);
        }
      });
    });

    it("a blob damaged in the medium: the copy fails with EINTEGRITY naming it, streamed and pumped", async () => {
      const medium = await fresh();
      await withSource(medium, async (source) => {
        const plans = await plansOf(source);
        const configs = new Set(plans.flatMap((plan) => [...plan.configBytes.keys()]));
        const victim = blobsOf(plans)
          .filter((blob) => !configs.has(blob.digest))
          .sort((a, b) => b.size - a.size)[0] as Descriptor;
        await medium.damageBlob(victim);
        for (const sink of [new DiscardSink(), streamingDiscard()]) {
          const error = await failureOf(() => copyImages(sink, plans));
          expectCode(error, "EINTEGRITY");
          expect(error.message).toContain(victim.digest);
        }
      });
      expect(openFilesUnder(medium.files)).toEqual([]);
    });

    it("a damaged medium: opening or planning it fails with a typed error, and holds no file", async () => {
      const medium = await fresh();
      const code = await medium.damageStructure();
      const error = await failureOf(() => withSource(medium, plansOf));
      expectCode(error, code);
      expect(isFerryError(error) && error.code).not.toBe("EINTERNAL");
      expect(openFilesUnder(medium.files)).toEqual([]);
    });

    it("blob streams given up after their first bytes (as a failed copy does) hold no file each", async () => {
      await withSource(shared, async (source) => {
        const blobs = blobsOf(await plansOf(source));
        /** Open every blob, take its first chunk, give it up; the files held after. */
        const abandonAll = async () => {
          for (const blob of blobs) {
            const stream = await source.openBlob(blob);
            const first = await new Promise<unknown>((resolve, reject) => {
              stream.once("data", resolve);
              stream.once("error", reject);
            });
            expect(first, blob.digest).toBeDefined();
            await released(stream);
          }
          return openFilesUnder(shared.files);
        };
        // A source may keep files open until closed (a volume it will read again, a download
        // finishing in its cache), but not one more for each stream: a second round adds none.
        const afterFirst = await abandonAll();
        const afterSecond = await abandonAll();
        expect(afterSecond.length, afterSecond.join("\n")).toBeLessThanOrEqual(afterFirst.length);
      });
      expect(openFilesUnder(shared.files)).toEqual([]);
    });

    it("close releases every file and connection: none of the medium's files, no more sockets than before", async () => {
      const socketsBefore = openSockets().length;
      const source = await shared.open();
      try {
        const blobReader = source.capabilities?.blobReader;
        for (const blob of blobsOf(await plansOf(source))) {
          await drain(await source.openBlob(blob));
          const reader = await blobReader?.(blob);
          if (reader) {
            await readAt(reader, 0, blob.size);
            await reader.close();
          }
        }
      } finally {
        await source.close();
      }
      expect(openFilesUnder(shared.files)).toEqual([]);
      expect(openSockets().length).toBeLessThanOrEqual(socketsBefore);
    });
  });
}
