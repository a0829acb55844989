/**
 * Hostile images for the security suite: indexes that name the same child over and over, nested
 * (N repeats L levels deep name N^L children but hold only L+1 distinct documents), and a
 * counting wrapper around a real Source that records every fetch and refuses past a budget, so
 * a test fails on the count, not on a clock.
 */

import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Source } from "../../src/types/transport.js";
import {
  blobOf,
  type ForgedBlob,
  type ForgedImage,
  type ForgeOptions,
  forgeBundle,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
} from "../helpers/corpus/forge-bundle.js";
import { buildZip } from "../helpers/corpus/raw-zip.js";
import { pushImage, type TestImage } from "../helpers/registry.js";

export interface FetchCounts {
  manifests: number;
  blobs: number;
}

/**
 * `source` with every `fetchManifest` and `openBlob` counted; past `budget` calls of either it
 * throws, so an exponential walk stops at once with a clear reason instead of running for hours.
 */
export function countingSource(
  source: Source,
  budget: number,
): { source: Source; counts: FetchCounts } {
  const counts: FetchCounts = { manifests: 0, blobs: 0 };
  const over = (kind: keyof FetchCounts) => {
    counts[kind]++;
    if (counts[kind] > budget) {
      throw new Error(`more than ${budget} ${kind} fetches: the walk is not bounded`);
    }
  };
  const counted = new Proxy(source, {
    get(target, property) {
      if (property === "fetchManifest") {
        return (descriptor: Parameters<Source["fetchManifest"]>[0]) => {
          over("manifests");
          return target.fetchManifest(descriptor);
        };
      }
      if (property === "openBlob") {
        return (descriptor: Parameters<Source["openBlob"]>[0]) => {
          over("blobs");
          return target.openBlob(descriptor);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { source: counted, counts };
}

const descriptorOf = (blob: ForgedBlob) => ({
  mediaType: blob.mediaType,
  digest: blob.digest,
  size: blob.size,
});

/** An OCI index naming `child` `repeats` times (with a platform on each entry when given). */
export function repeatingIndex(
  child: ForgedBlob,
  repeats: number,
  platform?: { os: string; architecture: string },
): ForgedBlob {
  const entry = { ...descriptorOf(child), ...(platform ? { platform } : {}) };
  const doc = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array(repeats).fill(entry) };
  return blobOf(Buffer.from(JSON.stringify(doc)), OCI_INDEX);
}

/**
 * A linux/amd64 image manifest with one random layer of `layerBytes`, its config carrying
 * `extra` fields, and its config and layer.
 */
function oneLayerImage(
  layerBytes: number,
  extra: Record<string, unknown> = {},
): { manifest: ForgedBlob; config: ForgedBlob; layer: ForgedBlob } {
  const layer = blobOf(randomBytes(layerBytes), OCI_LAYER);
  const config = blobOf(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [layer.digest] },
        ...extra,
      }),
    ),
    OCI_CONFIG,
  );
  const manifest = blobOf(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptorOf(config),
        layers: [descriptorOf(layer)],
      }),
    ),
    OCI_MANIFEST,
  );
  return { manifest, config, layer };
}

/** A linux/amd64 image manifest with one small random layer, and its config and layer. */
export function smallImage(): { manifest: ForgedBlob; config: ForgedBlob; layer: ForgedBlob } {
  return oneLayerImage(512);
}

/**
 * An image whose root is `levels` indexes deep, each naming the level below `repeats` times;
 * the bottom names one image manifest. Distinct documents: `levels` indexes and one manifest.
 */
export function nestedRepeatsImage(ref: string, repeats: number, levels: number): ForgedImage {
  const { manifest, config, layer } = smallImage();
  const indexes: ForgedBlob[] = [];
  let below = manifest;
  for (let level = 0; level < levels; level++) {
    below = repeatingIndex(below, repeats);
    indexes.push(below);
  }
  const root = indexes.pop() as ForgedBlob;
  return { ref, root, contents: [manifest, ...indexes, config, layer] };
}

/** Write a forged bundle of `images` to `file` (self-consistent: only the images are hostile). */
export function writeBundle(
  file: string,
  images: ForgedImage[],
  options: ForgeOptions = {},
): string {
  writeFileSync(file, buildZip(forgeBundle(images, options).entries));
  return file;
}

/** Write `image` as an OCI image layout in `dir`, named `refName` in its index.json. */
export function writeLayout(dir: string, image: ForgedImage, refName: string): string {
  mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  for (const blob of [image.root, ...image.contents]) {
    writeFileSync(path.join(dir, "blobs", "sha256", blob.digest.slice(7)), blob.bytes);
  }
  writeFileSync(path.join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const entry = {
    ...descriptorOf(image.root),
    annotations: { "org.opencontainers.image.ref.name": refName },
  };
  writeFileSync(
    path.join(dir, "index.json"),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry] }),
  );
  return dir;
}

/** An OCI index of `count` entries naming `child`, each for its own made-up platform. */
export function manyPlatformsIndex(child: ForgedBlob, count: number): ForgedBlob {
  const manifests = Array.from({ length: count }, (_, i) => ({
    ...descriptorOf(child),
    platform: { os: "linux", architecture: `arch${i}` },
  }));
  return blobOf(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })),
    OCI_INDEX,
  );
}

/**
 * Push a forged image into a registry: its blobs, then its manifests and indexes by digest
 * (each distinct document once, children first), then the root under `tag`.
 */
export async function pushForged(
  registryUrl: string,
  repository: string,
  tag: string,
  image: ForgedImage,
): Promise<void> {
  const isDocument = (blob: ForgedBlob) =>
    blob.mediaType === OCI_MANIFEST || blob.mediaType === OCI_INDEX;
  const blobs = new Map(
    image.contents.filter((b) => !isDocument(b)).map((b) => [b.digest, b.bytes] as const),
  );
  const asTestImage = (blob: ForgedBlob, withBlobs: boolean): TestImage => ({
    mediaType: blob.mediaType,
    bytes: blob.bytes,
    digest: blob.digest,
    blobs: withBlobs ? blobs : new Map(),
    children: [],
    layers: [],
  });
  const documents = image.contents.filter(isDocument); // children before their indexes
  let first = true;
  for (const document of documents) {
    await pushImage(registryUrl, repository, document.digest, asTestImage(document, first));
    first = false;
  }
  await pushImage(registryUrl, repository, tag, asTestImage(image.root, first));
}

/** A linux/amd64 image whose config carries `extra` fields (history, labels...). */
export function imageWithConfig(ref: string, extra: Record<string, unknown>): ForgedImage {
  const { manifest, config, layer } = oneLayerImage(256, extra);
  return { ref, root: manifest, contents: [config, layer] };
}
