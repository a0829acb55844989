import { createHash } from "node:crypto";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { describe, expect, it } from "vitest";
import { copyImages } from "../../src/engine/copy.js";
import { type ImagePlan, planImage } from "../../src/engine/plan.js";
import { isFerryError } from "../../src/errors.js";
import { DirectoryFiles } from "../../src/transports/layout/layout-files.js";
import { LayoutSource } from "../../src/transports/layout/source.js";
import type { Descriptor } from "../../src/types/descriptor.js";
import type { Sink, Source } from "../../src/types/transport.js";
import { tempDir } from "../helpers/cli.js";
import { threeImageLayout } from "../helpers/oci-layout.js";
import { fingerprint } from "../helpers/tree.js";

/** What a sink under test must offer the conformance suite. */
export interface SinkUnderTest {
  sink: Sink;
  /** Read back what was committed, as a source. */
  readBack(): Promise<Source>;
}

export interface SinkFactory {
  /** Make the empty target (a store, an output folder); return the folder that must not change on failure or abort. */
  prepare(dir: string): Promise<string>;
  create(dir: string, attempt: number): Promise<SinkUnderTest>;
}

async function fixture(dir: string): Promise<LayoutSource> {
  const layoutDir = path.join(dir, "fixture");
  threeImageLayout(layoutDir);
  return LayoutSource.open(new DirectoryFiles(layoutDir), {
    transport: `oci:${layoutDir}`,
    fallbackRepository: "localhost/fixture",
  });
}

async function plansOf(source: Source): Promise<ImagePlan[]> {
  return Promise.all(
    (await source.images()).map((image) => planImage(source, image, { platforms: "all" })),
  );
}

async function hashBlob(source: Source, descriptor: Descriptor): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of await source.openBlob(descriptor)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** A source that serves one blob with a flipped byte. */
function corrupting(source: Source, victim: string): Source {
  return {
    label: source.label,
    images: () => source.images(),
    fetchManifest: (d) => source.fetchManifest(d),
    close: () => source.close(),
    async openBlob(descriptor) {
      const stream = await source.openBlob(descriptor);
      if (descriptor.digest !== victim) return stream;
      let flipped = false;
      return stream.pipe(
        new Transform({
          transform(chunk: Buffer, _e, callback) {
            const copy = Buffer.from(chunk);
            if (!flipped && copy.length > 0) {
              copy[0] = (copy[0] ?? 0) ^ 0xff;
              flipped = true;
            }
            callback(null, copy);
          },
        }),
      );
    },
  };
}

/** The same blob read positionally (the engine's verified pump) with a flipped first byte. */
function corruptingPositional(source: Source, victim: string): Source {
  return {
    label: source.label,
    images: () => source.images(),
    fetchManifest: (d) => source.fetchManifest(d),
    close: () => source.close(),
    openBlob: (d) => source.openBlob(d),
    capabilities: {
      async blobReader(descriptor) {
        const reader = await source.capabilities?.blobReader?.(descriptor);
        if (!reader || descriptor.digest !== victim) return reader;
        return {
          async read(buffer, offset, length, position) {
            const n = await reader.read(buffer, offset, length, position);
            if (position === 0 && n > 0) buffer[offset] = (buffer[offset] ?? 0) ^ 0xff;
            return n;
          },
          close: () => reader.close(),
        };
      },
    },
  };
}

/** A source that counts how each blob was read: streamed (openBlob) or positionally. */
function counting(source: Source): { source: Source; streamed: string[]; positional: string[] } {
  const streamed: string[] = [];
  const positional: string[] = [];
  return {
    streamed,
    positional,
    source: {
      label: source.label,
      images: () => source.images(),
      fetchManifest: (d) => source.fetchManifest(d),
      close: () => source.close(),
      openBlob(descriptor) {
        streamed.push(descriptor.digest);
        return source.openBlob(descriptor);
      },
      capabilities: {
        async blobReader(descriptor) {
          const reader = await source.capabilities?.blobReader?.(descriptor);
          if (reader) positional.push(descriptor.digest);
          return reader;
        },
      },
    },
  };
}

/** The shared suite every sink runs. */
/** Run a test on the fixture source in a fresh temp dir; both are cleaned up after. */
async function withFixture(test: (dir: string, source: LayoutSource) => Promise<void>) {
  const tmp = tempDir();
  try {
    const source = await fixture(tmp.dir);
    await test(tmp.dir, source);
    await source.close();
  } finally {
    tmp.cleanup();
  }
}

export function sinkConformance(name: string, factory: SinkFactory): void {
  describe(`${name} (sink conformance)`, () => {
    it("round-trips images: same roots, every blob byte-identical", async () => {
      await withFixture(async (dir, source) => {
        const plans = await plansOf(source);
        const target = await factory.create(dir, 0);
        const result = await copyImages(target.sink, plans);
        expect(result.committed).toBe(true);
        const back = await target.readBack();
        const images = await back.images();
        expect(images.map((i) => [i.name, i.descriptor.digest]).sort()).toEqual(
          plans.map((p) => [p.name, p.root.digest]).sort(),
        );
        for (const plan of await plansOf(back)) {
          for (const blob of plan.blobs)
            expect(await hashBlob(back, blob.descriptor)).toBe(blob.descriptor.digest);
        }
        await back.close();
      });
    });

    it("skips blobs it already has: shared layers once, a second copy re-puts nothing", async () => {
      await withFixture(async (dir, source) => {
        const plans = await plansOf(source);
        const distinct = new Set(plans.flatMap((p) => p.blobs.map((b) => b.descriptor.digest)));
        const first = await factory.create(dir, 0);
        const result = await copyImages(first.sink, plans);
        expect(result.blobsCopied + result.blobsSkipped).toBe(distinct.size);
        const second = await factory.create(dir, 1);
        const again = await copyImages(second.sink, plans);
        expect(again.committed).toBe(true);
      });
    });

    const corruptions = [
      ["streamed", corrupting],
      ["read positionally (the verified pump)", corruptingPositional],
    ] as const;
    for (const [how, corrupt] of corruptions) {
      it(`a corrupt blob (${how}) fails with EINTEGRITY naming it, and leaves nothing behind`, async () => {
        await withFixture(async (dir, source) => {
          const plans = await plansOf(source);
          const victim = plans[0]?.blobs.find((b) => b.descriptor.size > 1000)?.descriptor
            .digest as string;
          const bad = corrupt(source, victim);
          const badPlans = plans.map((p) => ({ ...p, source: bad }));
          const visible = await factory.prepare(dir);
          const before = fingerprint(visible);
          const target = await factory.create(dir, 0);
          const positional = corrupt === corruptingPositional;
          if (positional && !target.sink.blobWriter) {
            await target.sink.abort();
            await source.close();
            return;
          }
          const error = await copyImages(target.sink, badPlans).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isFerryError(error) && error.code).toBe("EINTEGRITY");
          expect((error as Error).message).toContain(victim);
          expect(fingerprint(visible)).toEqual(before);
        });
      });
    }

    it("takes the verified pump where the source reads positionally and the sink offers a writer", async () => {
      await withFixture(async (dir, source) => {
        const seen = counting(source);
        const plans = (await plansOf(source)).map((p) => ({ ...p, source: seen.source }));
        const target = await factory.create(dir, 0);
        const result = await copyImages(target.sink, plans);
        expect(result.committed).toBe(true);
        const layers = new Set(
          plans.flatMap((p) => p.blobs.filter((b) => !p.configBytes.has(b.descriptor.digest))),
        );
        if (target.sink.blobWriter) {
          expect(seen.streamed).toEqual([]);
          expect(new Set(seen.positional)).toEqual(
            new Set([...layers].map((b) => b.descriptor.digest)),
          );
        }
        const back = await target.readBack();
        for (const plan of await plansOf(back)) {
          for (const blob of plan.blobs)
            expect(await hashBlob(back, blob.descriptor)).toBe(blob.descriptor.digest);
        }
        await back.close();
      });
    });

    it("abort after a blob written through the sink's blob writer leaves nothing visible", async () => {
      await withFixture(async (dir, source) => {
        const plans = await plansOf(source);
        const visible = await factory.prepare(dir);
        const before = fingerprint(visible);
        const target = await factory.create(dir, 0);
        if (target.sink.blobWriter) {
          const blob = plans[0]?.blobs.find((b) => b.descriptor.size > 1000)
            ?.descriptor as Descriptor;
          const bytes = await readAll(source, blob);
          const writer = await target.sink.blobWriter(blob);
          await writer.write(bytes, bytes.length);
          await writer.finish();
        }
        await target.sink.abort();
        expect(fingerprint(visible)).toEqual(before);
      });
    });

    it("abort after some blobs leaves nothing visible", async () => {
      await withFixture(async (dir, source) => {
        const plans = await plansOf(source);
        const visible = await factory.prepare(dir);
        const before = fingerprint(visible);
        const target = await factory.create(dir, 0);
        const blob = plans[0]?.blobs[0]?.descriptor as Descriptor;
        await target.sink.putBlob(blob, Readable.from([await readAll(source, blob)]));
        await target.sink.abort();
        expect(fingerprint(visible)).toEqual(before);
      });
    });
  });
}

async function readAll(source: Source, descriptor: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await source.openBlob(descriptor)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
