import type { CopyEvent, OmittedBlob } from "../engine/copy.js";
import { UsageError } from "../errors.js";
import { refNameOf } from "../transports/layout/index-file.js";
import { StoreSink, type TagChange } from "../transports/layout/sink.js";
import { Store } from "../transports/layout/store.js";
import type { RegistrySession, TransferStats } from "../transports/registry/session.js";
import { RegistrySource } from "../transports/registry/source.js";
import type { AttachedArtifact, AttachedSelection } from "../types/attached.js";
import { formatPlatform, type PlatformSelector } from "../types/platform.js";
import { type ImageStatus, imageStatus } from "./image-status.js";
import { copyPlans, noteSkippedAttached, planImages } from "./transfer.js";

export interface PullOptions {
  storeDir: string;
  platforms: PlatformSelector;
  session: RegistrySession;
  /** Blob writes into the store at once. */
  jobs?: number;
  onEvent?: (event: CopyEvent) => void;
  /** Stop cleanly when this aborts (Ctrl-C): nothing committed, staged files removed. */
  signal?: AbortSignal;
  /** Which attached artifacts to carry (default: all the registry knows of); false: none. */
  attached?: AttachedSelection | false;
  /** Told about attached artifacts found but not carried. */
  onNote?: (text: string) => void;
}

export interface PullReport {
  store: string;
  images: Array<{
    ref: string;
    digest: string;
    platforms: string[];
    status: ImageStatus;
    previous?: string;
    sourceIndexDigest?: string;
    /** What is attached to the image and carried with it. */
    attached?: AttachedArtifact[];
  }>;
  blobsWritten: number;
  blobsSkipped: number;
  bytesWritten: number;
  bytesSkipped: number;
  omitted: OmittedBlob[];
  tagsMoved: TagChange[];
  transfer: TransferStats;
  seconds: number;
}

/**
 * Pull images from registries straight into the local store (a connected host): the same
 * plan, verification and atomic store protocol as `load`, with blobs fetched through the
 * session's download cache. Blobs the store already has are not downloaded at all.
 */
export async function pullImages(references: string[], options: PullOptions): Promise<PullReport> {
  const started = Date.now();
  const sources = references.map((ref) => new RegistrySource(options.session, ref));
  try {
    const store = await Store.open(options.storeDir, { create: true });
    const before = new Map(
      (await store.readIndex()).manifests.map((d) => [refNameOf(d), d.digest]),
    );
    const plans = await planImages(
      sources.map((source) => ({ source, platforms: options.platforms })),
      {
        distinctNames: (image) =>
          new UsageError(`${image.name} is named twice`, { hint: "name each image once" }),
        ...(options.attached === undefined ? {} : { attached: options.attached }),
      },
    );
    noteSkippedAttached(plans, options.onNote);
    const sink = new StoreSink(store, {
      logEntry: { action: "pull", sources: sources.map((s) => s.label) },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const result = await copyPlans(sink, plans, options).catch(async (error: unknown) => {
      throw await options.session.explainFailure(error);
    });
    return {
      store: store.dir,
      images: result.images.map((record) => {
        return {
          ref: record.name,
          digest: record.descriptor.digest,
          platforms: record.platforms.map(formatPlatform),
          ...imageStatus(before.get(record.name), record.descriptor.digest),
          ...(record.sourceIndexDigest ? { sourceIndexDigest: record.sourceIndexDigest } : {}),
          ...(record.attached ? { attached: record.attached } : {}),
        };
      }),
      blobsWritten: result.blobsCopied,
      blobsSkipped: result.blobsSkipped,
      bytesWritten: result.bytesCopied,
      bytesSkipped: result.bytesSkipped,
      omitted: result.omitted,
      tagsMoved: sink.tagChanges,
      transfer: { ...options.session.stats },
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    for (const source of sources) await source.close();
  }
}
