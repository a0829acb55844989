import type { KeyObject } from "node:crypto";
import path from "node:path";
import type { CopyEvent } from "../engine/copy.js";
import { UsageError } from "../errors.js";
import { BundleSink } from "../transports/bundle/sink.js";
import type { SplitOptions } from "../transports/bundle/split-writer.js";
import type { AttachedArtifact, AttachedSelection } from "../types/attached.js";
import type { BundleManifest } from "../types/bundle.js";
import { type PartsManifest, parityName, partsFileName } from "../types/parts.js";
import type { BlobLocation } from "../types/transport.js";
import { refuseReservedOutput } from "../types/windows-names.js";
import { type DeltaBase, deltaMayOmit } from "./delta-base.js";
import { type ImageStatus, imageStatus } from "./image-status.js";
import { copyPlans, noteSkippedAttached, type PlanInput, planImages } from "./transfer.js";

/**
 * Downloads the engine writes straight into the bundle (a registry session in `direct` mode):
 * told where the blobs ended up once the bundle is complete, or to copy what it has out of the
 * bundle before an unfinished one is removed.
 */
export interface DirectDownloads {
  keepLocated(locations: ReadonlyMap<string, BlobLocation>): Promise<void>;
  salvage(): Promise<void>;
}

/** One source and the platforms to take from it. */
export type SaveInput = PlanInput;

export interface SaveOptions {
  output: string;
  tool: string;
  onEvent?: (event: CopyEvent) => void;
  jobs?: number;
  /** Leave out what the other side has (a delta bundle). */
  since?: DeltaBase;
  /** Sign ferry.json; `sequence` is the bundle's number in the key's sequence (anti-rollback). */
  signer?: { key: KeyObject; id: string; sequence?: number };
  /** Write split volumes (and optionally a parity volume) instead of one file. */
  split?: SplitOptions;
  /** ferry.json `created` (default: now). */
  created?: Date;
  downloads?: DirectDownloads;
  /** Stop cleanly when this aborts (Ctrl-C): no bundle, its temp file removed. */
  signal?: AbortSignal;
  /** Which attached artifacts to carry (default: all the sources know of); false: none. */
  attached?: AttachedSelection | false;
  /** Told about attached artifacts found but not carried. */
  onNote?: (text: string) => void;
}

export type SaveStatus = ImageStatus;

export interface SaveReport {
  bundle: string;
  id: string;
  images: Array<{
    ref: string;
    digest: string;
    platforms: string[];
    size: number;
    source: string;
    /** Against --since: new, updated (previous digest given), or unchanged. */
    status?: SaveStatus;
    previous?: string;
    /** What is attached to the image and carried with it. */
    attached?: AttachedArtifact[];
    /** A root that is not a container image (a Helm chart...). */
    artifactType?: string;
  }>;
  blobs: number;
  bytes: number;
  /** Delta: blobs needed but left out because the other side has them. */
  requires: number;
  requiredBytes: number;
  fileSize: number;
  signedBy?: string;
  /** The signed bundle's sequence number (ferry.json `sequence`). */
  sequence?: number;
  /** The `.parts` written (part names, sizes, sha256s, parity) when split. */
  parts?: PartsManifest;
  /**
   * Every file the save wrote, all of which must travel together: the bundle, or each part,
   * the parity volume, `.parts` and, when signed, `.parts.sig`.
   */
  files: string[];
  seconds: number;
  manifest: BundleManifest;
}

function statusAgainst(
  since: DeltaBase | undefined,
  ref: string,
  digest: string,
): { status?: ImageStatus; previous?: string } {
  return since ? imageStatus(since.images.get(ref), digest) : {};
}

/**
 * Save images from any sources into one bundle. Blobs shared between images are written once;
 * with `since`, layers the other side has are left out (listed in ferry.json `requires`).
 * The bundle appears under its name only when complete.
 */
export async function saveBundle(inputs: SaveInput[], options: SaveOptions): Promise<SaveReport> {
  const started = Date.now();
  refuseReservedOutput(options.output);
  const plans = await planImages(inputs, {
    distinctNames: (image, earlier) =>
      new UsageError(`${image.name} comes from both ${earlier} and ${image.origin}`, {
        hint: "save each image name once",
      }),
    ...(options.attached === undefined ? {} : { attached: options.attached }),
  });
  noteSkippedAttached(plans, options.onNote);
  const since = options.since;
  const downloads = options.downloads;
  const sink = await BundleSink.create(options.output, {
    tool: options.tool,
    ...(options.signer ? { signer: options.signer } : {}),
    ...(options.split ? { split: options.split } : {}),
    ...(options.created ? { created: options.created } : {}),
    ...(since ? { delta: { base: since.base, has: (d) => deltaMayOmit(since, d) } } : {}),
    ...(downloads ? { beforeAbort: () => downloads.salvage() } : {}),
  });
  // Registry sources hear the copy's events about their blobs themselves (what the engine
  // verified goes into their cache).
  await copyPlans(sink, plans, options);
  const written = sink.written;
  if (!written) throw new Error("bundle sink committed without a result");
  if (written.locations) await downloads?.keepLocated(written.locations);
  const { manifest } = written;
  return {
    bundle: written.path,
    id: manifest.id,
    images: manifest.images.map((image) => ({
      ref: image.ref,
      digest: image.digest,
      platforms: image.platforms,
      size: image.size,
      source: image.source,
      ...statusAgainst(since, image.ref, image.digest),
      ...(image.attached ? { attached: image.attached } : {}),
      ...(image.artifactType ? { artifactType: image.artifactType } : {}),
    })),
    blobs: manifest.blobs.length,
    bytes: manifest.blobs.reduce((sum, blob) => sum + blob.size, 0),
    requires: manifest.requires.length,
    requiredBytes: manifest.requires.reduce((sum, r) => sum + r.size, 0),
    fileSize: written.bytes,
    ...(written.parts ? { parts: written.parts } : {}),
    ...(options.signer ? { signedBy: options.signer.id } : {}),
    files: filesWritten(written.path, written.parts, options.signer !== undefined),
    ...(manifest.sequence !== undefined ? { sequence: manifest.sequence } : {}),
    seconds: (Date.now() - started) / 1000,
    manifest,
  };
}

/** The files a save wrote, each of which the other side needs (see `SaveReport.files`). */
export function filesWritten(
  bundle: string,
  parts: PartsManifest | undefined,
  signed: boolean,
): string[] {
  if (!parts) return [bundle];
  const dir = path.dirname(bundle);
  return [
    ...parts.parts.map((part) => path.join(dir, part.name)),
    ...(parts.parity ? [path.join(dir, parityName(parts.bundle))] : []),
    path.join(dir, partsFileName(parts.bundle)),
    // A signed split save signs `.parts` separately: without it the parts cannot be trusted.
    ...(signed ? [path.join(dir, `${partsFileName(parts.bundle)}.sig`)] : []),
  ];
}
