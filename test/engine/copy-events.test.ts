/**
 * The copy's one event stream: every party hears each blob's course (started, bytes landed
 * where the sink's writer put them, verified or rejected, done), and a source that listens
 * hears exactly the events of the blobs it provides. Real layouts, a real bundle.
 */

import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256Digest } from "../../src/digest/sha256.js";
import { copyImages } from "../../src/engine/copy.js";
import { type ImagePlan, planImage } from "../../src/engine/plan.js";
import { BundleSink } from "../../src/transports/bundle/sink.js";
import { DiscardSink } from "../../src/transports/discard.js";
import { DirectoryFiles } from "../../src/transports/layout/layout-files.js";
import { LayoutSource } from "../../src/transports/layout/source.js";
import type { BlobEvent, CopyEvent } from "../../src/types/copy-events.js";
import type { Source, SourceCapabilities } from "../../src/types/transport.js";
import { tempDir } from "../helpers/cli.js";
import { createLayout } from "../helpers/oci-layout.js";

const MiB = 1024 * 1024;

/** A layout with one image of the given layers, opened as a source. */
async function layoutSource(dir: string, layers: Buffer[], ref: string) {
  const layout = createLayout(dir);
  const image = layout.image({ layers });
  layout.tag(ref, image);
  layout.finish();
  const source = await LayoutSource.open(new DirectoryFiles(dir), {
    transport: `oci:${dir}`,
    fallbackRepository: "localhost/fixture",
  });
  const sizes = new Map(image.layers.map((digest, at) => [digest, layers[at]?.length ?? -1]));
  return { source, image, sizes };
}

/** `source` with its capabilities as given, and a listener recording its blobs' events. */
function listening(
  source: Source,
  capabilities: SourceCapabilities,
): { source: Source; heard: BlobEvent[] } {
  const heard: BlobEvent[] = [];
  return {
    heard,
    source: {
      label: source.label,
      images: () => source.images(),
      fetchManifest: (d) => source.fetchManifest(d),
      openBlob: (d) => source.openBlob(d),
      close: () => source.close(),
      capabilities: { ...capabilities, onBlobEvent: (event) => heard.push(event) },
    },
  };
}

async function plansOf(...sources: Source[]): Promise<ImagePlan[]> {
  const plans: ImagePlan[] = [];
  for (const source of sources) {
    for (const image of await source.images()) {
      plans.push(await planImage(source, image, { platforms: "all" }));
    }
  }
  return plans;
}

function eventsOf(events: CopyEvent[], digest: string): CopyEvent[] {
  return events.filter((event) => "digest" in event && event.digest === digest);
}

describe("the copy's event stream", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("tells each blob's course, with where its bytes landed; a listening source hears only its own blobs", async () => {
    const a = await layoutSource(
      path.join(tmp.dir, "a"),
      [randomBytes(2 * MiB + 7), randomBytes(3000)],
      "test.example/a:1",
    );
    const b = await layoutSource(path.join(tmp.dir, "b"), [randomBytes(MiB)], "test.example/b:1");
    const heardA = listening(a.source, a.source.capabilities);
    const target = path.join(tmp.dir, "events.zip");
    const sink = await BundleSink.create(target, { tool: "ferry test" });
    const all: CopyEvent[] = [];
    const result = await copyImages(sink, await plansOf(heardA.source, b.source), {
      jobs: 4,
      listeners: [(event) => all.push(event)],
    });
    expect(result.committed).toBe(true);

    const blobsA = [a.image.config, ...a.image.layers];
    const blobsB = [b.image.config, ...b.image.layers];
    expect(new Set(heardA.heard.map((event) => event.digest))).toEqual(new Set(blobsA));
    expect(heardA.heard).toEqual(all.filter((e) => "digest" in e && blobsA.includes(e.digest)));
    expect(all[0]?.type).toBe("start");
    expect(all.at(-1)?.type).toBe("commit");

    const bundle = readFileSync(target);
    const locations = sink.written?.locations;
    for (const digest of [...blobsA, ...blobsB]) {
      const course = eventsOf(all, digest).map((event) => event.type);
      expect(course[0]).toBe("blob-start");
      expect(course.slice(-2)).toEqual(["blob-verified", "blob-done"]);
      expect(course.filter((type) => type === "blob-verified")).toHaveLength(1);
      expect(course).not.toContain("blob-rejected");
    }
    // Layers go through the pump into a writer that names its location: every completed
    // write is told, the last one with the whole blob; the bytes are there in the bundle.
    const sizes = new Map([...a.sizes, ...b.sizes]);
    for (const digest of [...a.image.layers, ...b.image.layers]) {
      const landed = eventsOf(all, digest).filter((event) => event.type === "blob-landed");
      expect(landed.length).toBeGreaterThan(0);
      const counts = landed.map((event) => event.bytes);
      expect(counts).toEqual([...counts].sort((x, y) => x - y));
      const last = landed.at(-1);
      const size = sizes.get(digest) ?? -1;
      expect(last?.bytes).toBe(size);
      expect(last?.location.file).toMatch(/events\.zip\..*\.tmp$/);
      expect(last?.location.offset).toBe(locations?.get(digest)?.offset);
      const offset = last?.location.offset ?? -1;
      expect(sha256Digest(bundle.subarray(offset, offset + size))).toBe(digest);
    }
    // Image configs are copied from the planner's checked bytes, as a stream: no location.
    expect(eventsOf(all, a.image.config).map((e) => e.type)).not.toContain("blob-landed");
  });

  it("a blob whose bytes do not match is rejected (pump and stream alike), never verified or done", async () => {
    for (const positional of [true, false]) {
      const dir = path.join(tmp.dir, positional ? "bad-pump" : "bad-stream");
      const layer = randomBytes(300 * 1024);
      const { source, image } = await layoutSource(dir, [layer], "test.example/bad:1");
      const victim = image.layers[0] as string;
      const file = path.join(dir, "blobs", "sha256", victim.slice(7));
      const flipped = Buffer.from(layer);
      flipped[1000] = (flipped[1000] ?? 0) ^ 0xff;
      writeFileSync(file, flipped);
      const capabilities: SourceCapabilities = positional ? source.capabilities : {};
      const heard = listening(source, capabilities);
      const all: CopyEvent[] = [];
      const error = await copyImages(new DiscardSink(), await plansOf(heard.source), {
        onEvent: (event) => all.push(event),
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "EINTEGRITY" });
      const course = eventsOf(all, victim);
      expect(course.map((e) => e.type)).not.toContain("blob-verified");
      expect(course.map((e) => e.type)).not.toContain("blob-done");
      expect(course.filter((e) => e.type === "blob-rejected")).toEqual([
        {
          type: "blob-rejected",
          digest: victim,
          code: "EINTEGRITY",
          message: expect.stringContaining(victim),
        },
      ]);
      expect(heard.heard.filter((e) => e.digest === victim)).toEqual(course);
      await source.close();
    }
  });
});
