import type { Readable } from "node:stream";
import type { AttachedArtifact, AttachedCandidate } from "./attached.js";
import type { BlobEvent } from "./copy-events.js";
import type { Descriptor } from "./descriptor.js";
import type { Digest } from "./digest.js";
import type { Platform } from "./platform.js";

/**
 * The seam between the copy engine and every medium (registry, OCI layout, bundle, archives).
 * The engine verifies every byte (sha256 + size) in one place; transports only move bytes.
 *
 * Protocol for a sink: blobs first, then manifests (children before their index), then
 * `commit()`. `abort()` (or a crash) before `commit()` leaves nothing visible.
 */

/** One image (or index, or artifact) a source offers, and the name it goes by. */
export interface SourceImage {
  /** Full reference the image is known by (e.g. `docker.io/library/alpine:3.19`). */
  name: string;
  /** The root descriptor: a manifest or an index. */
  descriptor: Descriptor;
  /** Where it came from, for provenance (e.g. `oci:/path:tag`). Never holds a secret. */
  origin: string;
  /** Ferry's own per-image facts carried through a bundle (e.g. WIM metadata). */
  annotations?: Record<string, string>;
}

/**
 * What a source offers beyond reading images, manifests and blobs: each part optional, the
 * engine uses the ones that are there (and the compiler checks every use).
 */
export interface SourceCapabilities {
  /**
   * Positional access to a blob's bytes, where the medium allows it (a file, a stored zip
   * entry): lets the engine copy through reused buffers instead of a stream. Undefined: use
   * `openBlob`.
   */
  blobReader?(descriptor: Descriptor): Promise<BlobReader | undefined>;
  /** True when the source cannot provide the blob (e.g. a delta bundle that requires it). */
  lacksBlob?(descriptor: Descriptor): boolean;
  /**
   * The blobs the copy will open from the source (those the sink lacks), in copy order, so
   * a network source can download them ahead of a sink that takes one blob at a time.
   */
  prefetch?(descriptors: Descriptor[]): void;
  /**
   * Why the source leaves a blob out on purpose (e.g. `--skip-foreign`), else undefined. Such
   * a blob is not copied; it stays in the image's contents, so a bundle lists it as required.
   */
  omitReason?(descriptor: Descriptor): string | undefined;
  /**
   * Hears the copy's events about this source's blobs (see `BlobEvent`): a registry source's
   * download session keeps what the engine verified, tracks where the engine wrote a direct
   * download's bytes, and drops what the engine rejected. Quick, and never throws.
   */
  onBlobEvent?(event: BlobEvent): void;
  /**
   * The artifacts the source knows to be attached to a manifest (signatures, attestations,
   * SBOMs): a registry asks its referrers API (else the referrers tag) and cosign's tags; a
   * bundle or the store answers from what it recorded. Nothing found, or a registry that
   * refuses to say: an empty list. The planner fetches and checks each one.
   */
  attachedTo?(subject: Digest): Promise<AttachedCandidate[]>;
}

export interface Source {
  /** A short human label: `oci:/tmp/layout`, `bundle:/media/usb/x.zip`. */
  readonly label: string;
  /** What the source offers beyond the methods below. */
  readonly capabilities?: SourceCapabilities;
  /** The images this source offers (as selected when the source was opened). */
  images(): Promise<SourceImage[]>;
  /** The exact bytes of a manifest or index. The engine checks them against the digest. */
  fetchManifest(descriptor: Descriptor): Promise<Buffer>;
  /** A stream of a blob's bytes. The engine checks digest and size. */
  openBlob(descriptor: Descriptor): Promise<Readable>;
  close(): Promise<void>;
}

/** What the engine tells a sink about an image it is about to commit. */
export interface ImageRecord {
  name: string;
  descriptor: Descriptor;
  origin: string;
  platforms: Platform[];
  /** Total bytes of all blobs and manifests reachable from the root. */
  size: number;
  /** Every manifest and blob reachable from the root (manifests, configs, layers). */
  contents: Array<{ digest: Digest; size: number; mediaType: string }>;
  /** The original index digest when a platform subset was taken from it. */
  sourceIndexDigest?: string;
  annotations?: Record<string, string>;
  /** What is attached to the image's manifests and carried with it (in `contents` too). */
  attached?: AttachedArtifact[];
  /** A root that is not a container image (a Helm chart...): its artifactType or config type. */
  artifactType?: string;
}

/** Reads bytes of one blob at offsets relative to the blob's start. */
export interface BlobReader {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /**
   * True when reads wait on a download still arriving (a registry blob read as it grows): the
   * copy is then paced by the network, a hash worker would only add a copy per chunk and a
   * thread hand-off (measured: +1.2 CPU-s per GB on 2 cores), so the pump hashes on the main
   * thread.
   */
  readonly followsDownload?: boolean;
  close(): Promise<void>;
}

/** Where a writer puts a blob's bytes: in `file`, contiguous from byte `offset`. */
export interface BlobLocation {
  file: string;
  offset: number;
}

/** Writes one blob in order; `finish` keeps it (called only after the engine verified it). */
export interface BlobWriter {
  /**
   * Where the bytes written so far can be read back while the blob is being written, when the
   * sink can say (a single-file bundle: its temp file, at the entry's data offset). The engine
   * reports it with every completed write (`blob-landed` events).
   */
  readonly location?: BlobLocation;
  write(buffer: Buffer, length: number): Promise<void>;
  finish(): Promise<void>;
  discard(): Promise<void>;
}

export interface Sink {
  readonly label: string;
  /** A writer for one blob, for the engine's buffer-reusing copy (optional). */
  blobWriter?(descriptor: Descriptor): Promise<BlobWriter>;
  /** How many blobs the sink accepts at once (split bundle volumes and tars take one). */
  readonly maxConcurrentBlobs: number;
  hasBlob(descriptor: Descriptor): Promise<boolean>;
  /**
   * Store a blob from a stream that the engine verifies as it flows: when the stream
   * errors, the sink must discard what it wrote and reject.
   */
  putBlob(descriptor: Descriptor, stream: Readable): Promise<void>;
  putManifest(descriptor: Descriptor, bytes: Buffer): Promise<void>;
  /** Record an image to name at commit. Called after all its content was put. */
  addImage(record: ImageRecord): void;
  commit(): Promise<void>;
  abort(): Promise<void>;
}
