/**
 * `ferry load BUNDLE [--to DESTINATION]`: a verified bundle into the destination the transport
 * table parsed. The store and registries have ops of their own (an anti-rollback record, names
 * moved under the store lock, every blob verified before a registry sees one); any other
 * destination takes a plain copy through its table entry's sink (export.ts).
 */

import type { CopyEvent } from "../engine/copy.js";
import type { DestinationSpec } from "../transports/table.js";
import type { TrustedKey } from "../trust/keys.js";
import type { PlatformSelector } from "../types/platform.js";
import type { CosignPolicy } from "./cosign-check.js";
import { bundleToDestination, type ExportReport } from "./export.js";
import { type LoadReport, loadBundle } from "./load.js";
import { dryRunLoad } from "./load-dry-run.js";
import type { PushReport } from "./push/report.js";
import { type PushSettings, pushBundleToRegistry } from "./push.js";
import type { ProgressFor } from "./transfer.js";

export type LoadResult =
  | { transport: "store"; report: LoadReport }
  | { transport: "registry"; report: PushReport }
  | { transport: "copy"; destination: DestinationSpec; report: ExportReport };

export interface LoadToOptions {
  /** Require a signature by one of these keys (checked before anything is written). */
  trust: TrustedKey[];
  /** `--cosign-key`, `--require-signed`: judged on the plans before anything is written. */
  cosign?: CosignPolicy | undefined;
  /** Verify and show what the load would do; write nothing. */
  dryRun: boolean;
  /** Blob transfers at once. */
  jobs?: number;
  progress?: ProgressFor;
  onNote?: (text: string) => void;
  /** A store's folder from its `--to store:DIR` (none: the default store). */
  storeDir: (dir: string | undefined) => string;
  /** A store: point OS images' `latest` at the newest installed version. */
  latest: boolean;
  /** A store or a registry: accept a bundle older than one loaded there before. */
  allowDowngrade: boolean;
  /** Stop cleanly when this aborts (Ctrl-C): nothing committed, staged files removed. */
  signal?: AbortSignal;
  /** A destination that takes one platform per image (docker): which. */
  platforms: PlatformSelector;
  /** Split volumes: a folder of rebuilt volumes read instead of those in place. */
  partsFrom?: string | undefined;
  /** A registry: how to reach it and what to do there. */
  push: Omit<PushSettings, "dryRun" | "jobs" | "progress" | "onNote">;
}

/** Run `work` with the progress display of `operation`, stopped when it ends. */
async function withProgress<T>(
  progress: ProgressFor | undefined,
  operation: string,
  work: (events: { onEvent?: (event: CopyEvent) => void }) => Promise<T>,
): Promise<T> {
  const display = progress?.(operation);
  try {
    return await work(display ? { onEvent: (event) => display.onEvent(event) } : {});
  } finally {
    display?.stop();
  }
}

/** Load a bundle into `destination`. */
export async function loadTo(
  bundle: string,
  destination: DestinationSpec,
  options: LoadToOptions,
): Promise<LoadResult> {
  switch (destination.transport) {
    case "store": {
      const settings = {
        trust: options.trust,
        ...(options.cosign ? { cosign: options.cosign } : {}),
        ...(options.jobs ? { jobs: options.jobs } : {}),
        storeDir: options.storeDir(destination.dir),
        latest: options.latest,
        allowDowngrade: options.allowDowngrade,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.partsFrom ? { partsFrom: options.partsFrom } : {}),
      };
      const report = await withProgress(
        options.progress,
        options.dryRun ? "verifying" : "loading",
        (events) =>
          options.dryRun
            ? dryRunLoad(bundle, { ...settings, ...events })
            : loadBundle(bundle, { ...settings, ...events }),
      );
      return { transport: "store", report };
    }
    case "registry": {
      const report = await pushBundleToRegistry(bundle, destination, {
        ...options.push,
        dryRun: options.dryRun,
        trust: options.trust,
        cosign: options.cosign,
        allowDowngrade: options.allowDowngrade,
        partsFrom: options.partsFrom,
        ...(options.jobs ? { jobs: options.jobs } : {}),
        ...(options.progress ? { progress: options.progress } : {}),
        ...(options.onNote ? { onNote: options.onNote } : {}),
      });
      return { transport: "registry", report };
    }
    default: {
      const report = await withProgress(
        options.progress,
        options.dryRun ? "verifying" : "exporting",
        (events) =>
          bundleToDestination(bundle, {
            destination,
            platforms: options.platforms,
            trust: options.trust,
            partsFrom: options.partsFrom,
            ...(options.cosign ? { cosign: options.cosign } : {}),
            ...(options.dryRun ? { dryRun: true } : {}),
            ...(options.onNote ? { onNote: options.onNote } : {}),
            ...events,
          }),
      );
      return { transport: "copy", destination, report };
    }
  }
}
