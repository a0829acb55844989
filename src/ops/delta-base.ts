import { readFile } from "node:fs/promises";
import { fromSystemError } from "../errors.js";
import { BundleReader } from "../transports/bundle/reader.js";
import type { BundleManifest } from "../types/bundle.js";
import type { Descriptor } from "../types/descriptor.js";
import { parseHaveList } from "../types/have.js";
import { isIndexMediaType, isManifestMediaType, MediaType } from "../types/media-types.js";

/** What the offline side is known to hold, from a have-list or from the previous bundle. */
export interface DeltaBase {
  base: NonNullable<BundleManifest["base"]>;
  blobs: Set<string>;
  /** Image name -> digest on the other side. */
  images: Map<string, string>;
}

const ALWAYS_CARRIED = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);

/**
 * A delta leaves out only layers (and other large blobs) the other side has. Manifests and
 * image configs are always carried: they are small, and loading plans from them.
 */
export function deltaMayOmit(base: DeltaBase, descriptor: Descriptor): boolean {
  if (isManifestMediaType(descriptor.mediaType) || isIndexMediaType(descriptor.mediaType))
    return false;
  if (ALWAYS_CARRIED.has(descriptor.mediaType)) return false;
  return base.blobs.has(descriptor.digest);
}

async function fromBundle(path: string): Promise<DeltaBase> {
  const reader = await BundleReader.open(path);
  try {
    const manifest = reader.manifest as BundleManifest;
    return {
      base: { kind: "bundle", id: manifest.id, description: path },
      blobs: new Set([
        ...manifest.blobs.map((b) => b.digest),
        ...manifest.requires.map((r) => r.digest),
      ]),
      images: new Map(manifest.images.map((i) => [i.ref, i.digest])),
    };
  } finally {
    await reader.close();
  }
}

/** Read `--since`: a have-list (JSON) or the previous bundle. */
export async function readDeltaBase(path: string): Promise<DeltaBase> {
  let head: Buffer;
  try {
    head = await readFile(path);
  } catch (error) {
    throw fromSystemError(error, path, "reading");
  }
  if (head[0] === 0x7b) {
    const have = parseHaveList(head, path);
    return {
      base: { kind: "have", id: have.storeId, description: `${path} (${have.created})` },
      blobs: new Set(have.blobs),
      images: new Map(have.images.map((i) => [i.ref, i.digest])),
    };
  }
  return fromBundle(path);
}
