import type { CopyEvent, CopyResult } from "../engine/copy.js";
import { StoreSink, type StoreSinkOptions, type TagChange } from "../transports/layout/sink.js";
import { Store } from "../transports/layout/store.js";
import type { TrustedKey } from "../trust/keys.js";
import type { CosignPolicy, CosignVerdict } from "./cosign-check.js";
import { type ImageStatus, imageStatus } from "./image-status.js";
import { namesOf, storeRollbackGuard } from "./rollback.js";
import { copyPlans, planImages, withBundle } from "./transfer.js";
import { type LatestMove, type LoadedOsImage, osImageLoad } from "./wim-load.js";

export type { ImageStatus };

export interface LoadReport {
  bundle: string;
  bundleId: string;
  store: string;
  /** A dry run (`load --dry-run`): what the load would do; nothing was written. */
  dryRun?: boolean;
  /** `downgraded`: moved to an older bundle's image (only with allowDowngrade). */
  images: Array<{
    ref: string;
    digest: string;
    status: ImageStatus | "downgraded";
    previous?: string;
  }>;
  blobsWritten: number;
  blobsSkipped: number;
  bytesWritten: number;
  bytesSkipped: number;
  tagsMoved: TagChange[];
  /** Windows base OS images this load installed (ferry.json kind os-image). */
  osImages: LoadedOsImage[];
  /** `latest` tags of OS images that moved. */
  latestMoved: LatestMove[];
  /** What went wrong after the images were installed (the load still succeeded). */
  warnings?: string[];
  /** With `--cosign-key`: each image's cosign signatures, judged before anything was written. */
  cosign?: CosignVerdict[];
  seconds: number;
}

export interface LoadOptions {
  storeDir: string;
  onEvent?: (event: CopyEvent) => void;
  jobs?: number;
  /** Extra store-sink behaviour (OS-image tags, annotations). */
  sinkOptions?: Omit<StoreSinkOptions, "logEntry">;
  /** Require a signature by one of these keys (checked before anything is written). */
  trust?: TrustedKey[];
  /** `--cosign-key`, `--require-signed`: judged on the plans before anything is written. */
  cosign?: CosignPolicy;
  /** Point each OS image name's `latest` at its newest installed version (default true). */
  latest?: boolean;
  /** Load a bundle older than what the store loaded before (see ops/rollback.ts). */
  allowDowngrade?: boolean;
  /** Stop cleanly when this aborts (Ctrl-C): nothing committed, staged files removed. */
  signal?: AbortSignal;
  /** Split volumes: a folder of rebuilt volumes read instead of those in place. */
  partsFrom?: string;
}

/**
 * A store load's images (each named new / updated / unchanged against `before`, or downgraded)
 * and blob counts, as the load and its dry run report them.
 */
export function loadedFigures(
  result: CopyResult,
  before: ReadonlyMap<string, string>,
  downgraded: ReadonlySet<string> | undefined,
): Pick<LoadReport, "images" | "blobsWritten" | "blobsSkipped" | "bytesWritten" | "bytesSkipped"> {
  return {
    images: result.images.map((record) => {
      const status = imageStatus(before.get(record.name), record.descriptor.digest);
      return {
        ref: record.name,
        digest: record.descriptor.digest,
        ...(downgraded?.has(record.name) ? { ...status, status: "downgraded" } : status),
      };
    }),
    blobsWritten: result.blobsCopied,
    blobsSkipped: result.blobsSkipped,
    bytesWritten: result.bytesCopied,
    bytesSkipped: result.bytesSkipped,
  };
}

/**
 * Verify a bundle while installing it into the store: structure first (a hostile bundle is
 * refused before anything is written), then every blob hashed as it is written to the store's
 * staging area, then one atomic index update. Any failure leaves the store as it was.
 */
export async function loadBundle(path: string, options: LoadOptions): Promise<LoadReport> {
  const started = Date.now();
  return withBundle(path, options, async ({ reader, manifest, source, gate }) => {
    // Manifests and configs verified, and the cosign gate judged, before the store is even
    // created: a refused bundle leaves no trace.
    const plans = await planImages([{ source, platforms: "all" }]);
    const cosign = await gate(plans);
    const store = await Store.open(options.storeDir, { create: true });
    const before = namesOf(await store.readIndex());
    // Anti-rollback: refused here, before any blob is copied, and judged again at commit.
    const rollback = storeRollbackGuard(store, reader, path, options.allowDowngrade === true);
    await rollback.check(before);
    const wim = osImageLoad(plans, {
      latest: options.latest !== false,
      ...(options.sinkOptions ? { base: options.sinkOptions } : {}),
    });
    const sink = new StoreSink(store, {
      ...wim.sinkOptions,
      beforeIndexWrite: rollback.beforeIndexWrite,
      logEntry: {
        action: "load",
        bundle: path,
        bundleId: manifest.id,
        created: manifest.created,
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const result = await copyPlans(sink, plans, options);
    return {
      bundle: path,
      bundleId: manifest.id,
      store: store.dir,
      ...loadedFigures(result, before, rollback.downgraded),
      tagsMoved: sink.tagChanges,
      osImages: wim.osImages(),
      latestMoved: wim.latestMoved(sink.tagChanges),
      ...(sink.warnings.length > 0 ? { warnings: sink.warnings } : {}),
      ...(cosign ? { cosign } : {}),
      seconds: (Date.now() - started) / 1000,
    };
  });
}
