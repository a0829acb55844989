import { open } from "node:fs/promises";
import { FerryError, fromSystemError } from "../errors.js";
import { BundleReader } from "../transports/bundle/reader.js";
import type { BundleManifest } from "../types/bundle.js";
import type { Descriptor } from "../types/descriptor.js";
import { parseHaveList } from "../types/have.js";
import { isIndexMediaType, isManifestMediaType, MediaType } from "../types/media-types.js";
import { hasSuffix, looksLikeJsonText } from "../types/text-file.js";
import { ifExists } from "../util/if-exists.js";

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

/** A have-list larger than this is refused (65,000 blobs take about 5 MiB). */
const MAX_HAVE_LIST = 256 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/**
 * The bytes of `path` when it is a have-list (JSON: its first byte is `{`), read once into
 * memory (the bytes judged are the bytes parsed); undefined when it is something else (a
 * bundle, read by the bundle reader instead: a multi-gigabyte file is not read into memory).
 */
async function readHaveListBytes(path: string): Promise<Buffer | undefined> {
  // `B.zip` may exist only as split volumes: the bundle reader finds them (or says what is missing).
  const handle = await ifExists(open(path, "r"), path);
  if (handle === undefined) return undefined;
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK, total);
      if (bytesRead === 0) break;
      // A have-list is JSON, possibly with a BOM or in UTF-16 (written by PowerShell).
      if (total === 0 && !looksLikeJsonText(chunk.subarray(0, bytesRead))) return undefined;
      total += bytesRead;
      if (total > MAX_HAVE_LIST) {
        throw new FerryError("EUSAGE", `${path} is larger than ${MAX_HAVE_LIST} bytes`, {
          hint: "give --since a have-list written by `ferry have`, or the previous bundle",
        });
      }
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return total === 0 ? undefined : Buffer.concat(chunks);
  } catch (error) {
    throw fromSystemError(error, path, "reading");
  } finally {
    await handle.close();
  }
}

/** Read `--since`: a have-list (JSON) or the previous bundle (one file or split volumes). */
export async function readDeltaBase(path: string): Promise<DeltaBase> {
  const bytes = hasSuffix(path, ".parts") ? undefined : await readHaveListBytes(path);
  if (bytes) {
    const have = parseHaveList(bytes, path);
    return {
      base: { kind: "have", id: have.storeId, description: `${path} (${have.created})` },
      blobs: new Set(have.blobs),
      images: new Map(have.images.map((i) => [i.ref, i.digest])),
    };
  }
  return fromBundle(path);
}
