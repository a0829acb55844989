import { createHash, randomUUID } from "node:crypto";
import type { RawEntry } from "./raw-zip.js";

/**
 * Forge ferry bundles without ferry: every entry, ferry.json, index.json and SHA256SUMS built
 * here from the format documentation (docs/bundle-format.md), self-consistent unless a test
 * edits a piece. A forged bundle with no edits verifies and loads (corpus.test.ts checks
 * that), so a refusal of an edited one is caused by the edit.
 */

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME = "org.opencontainers.image.ref.name";

export interface ForgedBlob {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  size: number;
}

export interface ForgedImage {
  ref: string;
  /** What the name points at (a manifest, or an index). */
  root: ForgedBlob;
  /** Every other blob the image needs (configs, layers, child manifests). */
  contents: ForgedBlob[];
}

export function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function integrity(bytes: Buffer): string {
  return `sha256-${createHash("sha256").update(bytes).digest("base64")}`;
}

export function blobOf(bytes: Buffer, mediaType: string): ForgedBlob {
  return { bytes, mediaType, digest: `sha256:${sha256Hex(bytes)}`, size: bytes.length };
}

const descriptor = (blob: ForgedBlob) => ({
  mediaType: blob.mediaType,
  digest: blob.digest,
  size: blob.size,
});

/**
 * A linux/amd64 image of the given layers. `editManifest` changes the manifest document
 * before it is serialized; `manifestBytes` replaces it outright (its digest follows).
 */
export function forgeImage(
  ref: string,
  layers: Buffer[],
  options: {
    editManifest?: (doc: Record<string, unknown>) => void;
    manifestBytes?: Buffer;
    manifestMediaType?: string;
  } = {},
): ForgedImage {
  const layerBlobs = layers.map((bytes) => blobOf(bytes, OCI_LAYER));
  const config = blobOf(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: layerBlobs.map((l) => l.digest) },
      }),
    ),
    OCI_CONFIG,
  );
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(config),
    layers: layerBlobs.map(descriptor),
  };
  options.editManifest?.(doc);
  const bytes = options.manifestBytes ?? Buffer.from(JSON.stringify(doc));
  const root = blobOf(bytes, options.manifestMediaType ?? OCI_MANIFEST);
  return { ref, root, contents: [config, ...layerBlobs] };
}

export interface ForgeOptions {
  /** Change the ferry.json document before it is serialized. */
  editFerry?: (doc: Record<string, unknown>) => void;
  /** Replace ferry.json's bytes outright (SHA256SUMS still follows them). */
  ferryBytes?: Buffer;
  /** Change the index.json document (ferry.json's record of it follows). */
  editIndex?: (doc: Record<string, unknown>) => void;
  /** Blobs carried besides the images' own. */
  extraBlobs?: ForgedBlob[];
}

export interface ForgedBundle {
  entries: RawEntry[];
  ferry: Buffer;
  blobs: ForgedBlob[];
}

/** The entries of a bundle in ferry's order: oci-layout, blobs, index.json, ferry.json, SHA256SUMS. */
export function forgeBundle(images: ForgedImage[], options: ForgeOptions = {}): ForgedBundle {
  const layout = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
  const blobs = new Map<string, ForgedBlob>();
  for (const image of images) {
    for (const blob of [...image.contents, image.root]) blobs.set(blob.digest, blob);
  }
  for (const blob of options.extraBlobs ?? []) blobs.set(blob.digest, blob);
  const indexDoc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((image) => ({
      ...descriptor(image.root),
      annotations: { [REF_NAME]: image.ref },
    })),
  };
  options.editIndex?.(indexDoc);
  const index = Buffer.from(`${JSON.stringify(indexDoc, null, 2)}\n`);
  const ferryDoc: Record<string, unknown> = {
    schema: "ferry.bundle/v1",
    id: randomUUID(),
    created: "2026-01-01T00:00:00.000Z",
    tool: "forged by the reliability suite",
    images: images.map((image) => ({
      ref: image.ref,
      digest: image.root.digest,
      mediaType: image.root.mediaType,
      size: [image.root, ...image.contents].reduce((sum, b) => sum + b.size, 0),
      platforms: ["linux/amd64"],
      source: "forged",
      blobs: [image.root, ...image.contents].map((b) => b.digest),
      kind: "image",
    })),
    blobs: [...blobs.values()].map((b) => ({
      digest: b.digest,
      size: b.size,
      mediaType: b.mediaType,
      integrity: integrity(b.bytes),
    })),
    requires: [],
    base: null,
    files: {
      "oci-layout": { size: layout.length, integrity: integrity(layout) },
      "index.json": { size: index.length, integrity: integrity(index) },
    },
  };
  options.editFerry?.(ferryDoc);
  const ferry = options.ferryBytes ?? Buffer.from(`${JSON.stringify(ferryDoc, null, 2)}\n`);
  const sums = [
    ...[...blobs.values()].map((b) => `${sha256Hex(b.bytes)}  blobs/sha256/${b.digest.slice(7)}`),
    `${sha256Hex(layout)}  oci-layout`,
    `${sha256Hex(index)}  index.json`,
    `${sha256Hex(ferry)}  ferry.json`,
  ];
  const entries: RawEntry[] = [
    { name: "oci-layout", data: layout },
    ...[...blobs.values()].map((b) => ({
      name: `blobs/sha256/${b.digest.slice(7)}`,
      data: b.bytes,
    })),
    { name: "index.json", data: index },
    { name: "ferry.json", data: ferry },
    { name: "SHA256SUMS", data: Buffer.from(`${sums.join("\n")}\n`) },
  ];
  return { entries, ferry, blobs: [...blobs.values()] };
}
