import { type KeyObject, randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { integrityOf } from "../../digest/integrity.js";
import { sha256Digest } from "../../digest/sha256.js";
import { FerryError } from "../../errors.js";
import { signBytes } from "../../trust/signature.js";
import {
  BUNDLE_SCHEMA,
  type BundleBlob,
  BundleFile,
  type BundleImage,
  type BundleManifest,
  osImagesOf,
  parseBundleManifest,
} from "../../types/bundle.js";
import { type Descriptor, REF_NAME_ANNOTATION } from "../../types/descriptor.js";
import { type Digest, digestHex } from "../../types/digest.js";
import type { ImageIndex } from "../../types/manifest.js";
import { MediaType } from "../../types/media-types.js";
import type { PartsManifest } from "../../types/parts.js";
import { formatPlatform } from "../../types/platform.js";
import type { BlobLocation, BlobWriter, ImageRecord, Sink } from "../../types/transport.js";
import { blobPath, OCI_LAYOUT_FILE } from "../layout/index-file.js";
import type { SplitOptions } from "./split-writer.js";
import { ZipWriter } from "./zip-writer.js";

export interface BundleSinkOptions {
  /** Write split volumes (`B.zip.001`, ..., `B.zip.parts`, optional parity) instead of one file. */
  split?: SplitOptions;
  /**
   * Sign ferry.json with this Ed25519 key (writes ferry.json.sig); `sequence` is written into
   * ferry.json (the bundle's number in the key's sequence: anti-rollback).
   */
  signer?: { key: KeyObject; id: string; sequence?: number };
  /** `ferry <version>`. */
  tool: string;
  created?: Date;
  /**
   * Called before an unfinished bundle is removed: a registry session that downloaded straight
   * into it copies what it has into its cache (`RegistrySession.salvage`).
   */
  beforeAbort?: () => Promise<void>;
  /** Blobs the images need that this bundle leaves out (a delta), with what it is based on. */
  delta?: {
    base: NonNullable<BundleManifest["base"]>;
    /** True when the other side has the blob already. */
    has: (descriptor: Descriptor) => boolean;
  };
}

/** The whole result of a bundle write, for summaries. */
export interface WrittenBundle {
  path: string;
  manifest: BundleManifest;
  bytes: number;
  /** The `.parts` written, when the bundle was split. */
  parts?: PartsManifest;
  /**
   * Where each blob written as an entry (blobs and manifests) lies in the finished bundle:
   * `path`, from the entry's data offset. Single-file bundles only.
   */
  locations?: Map<string, BlobLocation>;
}

/**
 * ferry.json as `verify` and `load` will judge it: a save never writes a bundle its own readers
 * refuse (sources refuse or map what cannot be named first; reaching this is a bug).
 */
function checkReadable(manifestBytes: Buffer): void {
  try {
    parseBundleManifest(manifestBytes);
  } catch (error) {
    throw new FerryError(
      "EINTERNAL",
      `the bundle would not pass its own verify, so it was not written: ${error instanceof Error ? error.message : String(error)}`,
      { hint: "please report this with the sources you saved", cause: error },
    );
  }
}

/**
 * Blobs a single-file bundle takes at once (each entry written into its own reserved region,
 * e.g. several registry downloads streamed in as they arrive). The engine's --jobs caps it.
 */
const CONCURRENT_BLOBS = 8;

/**
 * Writes bundle format v1: a zip (STORED entries) holding an OCI image layout, ferry.json (the
 * root of trust: every blob's size and integrity) and SHA256SUMS. Blobs shared between images
 * are written once. The file appears under its name only when complete. A single-file bundle
 * takes several blobs at once (concurrent zip entries); split volumes take one at a time.
 */
export class BundleSink implements Sink {
  readonly label: string;
  readonly maxConcurrentBlobs: number;
  written: WrittenBundle | undefined;
  private readonly blobs = new Map<string, BundleBlob>();
  /** Data offset of each blob entry written (single-file bundles only). */
  private readonly dataOffsets = new Map<string, number>();
  private readonly records: ImageRecord[] = [];
  private readonly created: Date;

  private constructor(
    private readonly zip: ZipWriter,
    private readonly options: BundleSinkOptions,
  ) {
    this.label = `bundle ${zip.target}`;
    this.maxConcurrentBlobs = zip.concurrentEntries ? CONCURRENT_BLOBS : 1;
    this.created = options.created ?? new Date();
  }

  static async create(target: string, options: BundleSinkOptions): Promise<BundleSink> {
    const signer = options.signer;
    const split =
      options.split && signer
        ? {
            ...options.split,
            signParts: (bytes: Buffer) => signBytes(bytes, signer.key, signer.id),
          }
        : options.split;
    const zip = await ZipWriter.create(target, options.created, { split });
    try {
      await zip.addBytes(BundleFile.Layout, Buffer.from(OCI_LAYOUT_FILE));
    } catch (error) {
      await zip.abort();
      throw error;
    }
    return new BundleSink(zip, options);
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.blobs.has(descriptor.digest) || (this.options.delta?.has(descriptor) ?? false);
  }

  /** A blob entry is complete, its data at `dataOffset` in the archive. */
  private remember(descriptor: Descriptor, dataOffset: number): void {
    if (this.zip.tempPath !== undefined) this.dataOffsets.set(descriptor.digest, dataOffset);
    this.blobs.set(descriptor.digest, {
      digest: descriptor.digest,
      size: descriptor.size,
      mediaType: descriptor.mediaType,
      integrity: integrityOf(descriptor.digest),
    });
  }

  async putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    this.remember(
      descriptor,
      await this.zip.addStream(blobPath(descriptor.digest), descriptor.size, stream),
    );
  }

  /**
   * The same entry as putBlob, written by the engine's verified pump (reused buffers, no
   * stream). The entry is recorded only by `finish`, which the pump calls after the size and
   * sha256 matched; `discard` leaves the archive to be aborted (the engine aborts the sink).
   * In a single-file bundle the writer names where its bytes go (`location`: the temp file,
   * at the entry's data offset), readable there as they are written.
   */
  async blobWriter(descriptor: Descriptor): Promise<BlobWriter> {
    const entry = await this.zip.beginEntry(blobPath(descriptor.digest), descriptor.size);
    const file = this.zip.tempPath;
    return {
      ...(file !== undefined ? { location: { file, offset: entry.dataOffset } } : {}),
      write: (buffer, length) => entry.write(buffer, length),
      finish: async () => {
        await entry.finish();
        this.remember(descriptor, entry.dataOffset);
      },
      discard: () => entry.discard(),
    };
  }

  async putManifest(descriptor: Descriptor, bytes: Buffer): Promise<void> {
    this.remember(descriptor, await this.zip.addBytes(blobPath(descriptor.digest), bytes));
  }

  addImage(record: ImageRecord): void {
    if (this.records.some((r) => r.name === record.name)) {
      throw new FerryError("EUSAGE", `${record.name} is named twice in this save`, {
        hint: "give each image once",
      });
    }
    this.records.push(record);
  }

  private indexDocument(): ImageIndex {
    return {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: this.records.map((record) => ({
        mediaType: record.descriptor.mediaType,
        digest: record.descriptor.digest,
        size: record.descriptor.size,
        annotations: { ...record.annotations, [REF_NAME_ANNOTATION]: record.name },
      })),
    };
  }

  private imageEntry(record: ImageRecord): BundleImage {
    const image: BundleImage = {
      ref: record.name,
      digest: record.descriptor.digest,
      mediaType: record.descriptor.mediaType,
      size: record.size,
      platforms: record.platforms.map(formatPlatform),
      source: record.origin,
      blobs: record.contents.map((c) => c.digest),
      kind: record.annotations?.["vnd.ferry.kind"] === "os-image" ? "os-image" : "image",
    };
    if (record.sourceIndexDigest) image.sourceIndexDigest = record.sourceIndexDigest as Digest;
    if (record.annotations) image.annotations = record.annotations;
    if (record.attached && record.attached.length > 0) image.attached = record.attached;
    if (record.artifactType) image.artifactType = record.artifactType;
    return image;
  }

  private requiredBlobs(): BundleManifest["requires"] {
    const required = new Map<string, BundleManifest["requires"][number]>();
    for (const record of this.records) {
      for (const content of record.contents) {
        if (!this.blobs.has(content.digest)) required.set(content.digest, { ...content });
      }
    }
    return [...required.values()];
  }

  async commit(): Promise<void> {
    const layoutBytes = Buffer.from(OCI_LAYOUT_FILE);
    const indexBytes = Buffer.from(`${JSON.stringify(this.indexDocument(), null, 2)}\n`);
    await this.zip.addBytes(BundleFile.Index, indexBytes);
    const manifest: BundleManifest = {
      schema: BUNDLE_SCHEMA,
      id: randomUUID(),
      created: this.created.toISOString(),
      ...(this.options.signer?.sequence !== undefined
        ? { sequence: this.options.signer.sequence }
        : {}),
      tool: this.options.tool,
      images: this.records.map((record) => this.imageEntry(record)),
      blobs: [...this.blobs.values()],
      requires: this.requiredBlobs(),
      base: this.options.delta?.base ?? null,
      files: {
        [BundleFile.Layout]: {
          size: layoutBytes.length,
          integrity: integrityOf(sha256Digest(layoutBytes)),
        },
        [BundleFile.Index]: {
          size: indexBytes.length,
          integrity: integrityOf(sha256Digest(indexBytes)),
        },
      },
    };
    const osImages = osImagesOf(manifest.images);
    if (osImages.length > 0) manifest.osImages = osImages;
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    checkReadable(manifestBytes);
    await this.zip.addBytes(BundleFile.Manifest, manifestBytes);
    let signatureBytes: Buffer | undefined;
    if (this.options.signer) {
      const { key, id } = this.options.signer;
      signatureBytes = signBytes(manifestBytes, key, id);
      await this.zip.addBytes(BundleFile.Signature, signatureBytes);
    }
    const sums = [
      ...[...this.blobs.values()].map(
        (blob) => `${digestHex(blob.digest)}  ${blobPath(blob.digest)}`,
      ),
      `${digestHex(sha256Digest(layoutBytes))}  ${BundleFile.Layout}`,
      `${digestHex(sha256Digest(indexBytes))}  ${BundleFile.Index}`,
      `${digestHex(sha256Digest(manifestBytes))}  ${BundleFile.Manifest}`,
      ...(signatureBytes
        ? [`${digestHex(sha256Digest(signatureBytes))}  ${BundleFile.Signature}`]
        : []),
    ];
    await this.zip.addBytes(BundleFile.Checksums, Buffer.from(`${sums.join("\n")}\n`));
    const singleFile = this.zip.tempPath !== undefined;
    const finished = await this.zip.finish({ bundleId: manifest.id });
    this.written = { path: this.zip.target, manifest, bytes: finished.size };
    if (finished.parts) this.written.parts = finished.parts;
    if (singleFile) this.written.locations = this.finalLocations();
  }

  /** Each blob entry's data in the finished bundle: the target file, same offsets. */
  private finalLocations(): Map<string, BlobLocation> {
    const file = this.zip.target;
    return new Map([...this.dataOffsets].map(([digest, offset]) => [digest, { file, offset }]));
  }

  async abort(): Promise<void> {
    // Whoever wrote straight into the bundle copies its bytes out before the file goes.
    await this.options.beforeAbort?.().catch(() => {});
    await this.zip.abort();
  }
}
