/**
 * Push images into a registry: a verified bundle straight from the USB medium
 * (`ferry load BUNDLE --to registry:HOST[/PREFIX]`) or images from the local store
 * (`ferry push REF DEST`, `ferry push --to registry:HOST[/PREFIX] REF...`). This module opens
 * the registry (client, mount hints, upload tuning) from the command's settings; ./push/ holds
 * the push (images.ts), its dry run, its sources and its report.
 */

import { defaultCacheDir } from "../cache/blob-cache.js";
import { openClient } from "../transports/registry/session.js";
import { DEFAULT_UPLOAD_TUNING, type UploadTuning } from "../transports/registry/upload.js";
import { BlobLocations, blobLocationsFile } from "../transports/registry/upload-locations.js";
import type { TrustedKey } from "../trust/keys.js";
import type { RegistryTarget } from "../types/registry-target.js";
import type { CosignPolicy } from "./cosign-check.js";
import { parseDestination } from "./name-mapping.js";
import { pushBundle } from "./push/from-bundle.js";
import { pushFromStore, type StorePushRequest } from "./push/from-store.js";
import type { PushOptions } from "./push/images.js";
import type { PushReport } from "./push/report.js";
import { clientOptionsFromFlags, type RegistryFlags } from "./registry-options.js";
import { defaultStateDir, registryRollbackFile } from "./rollback.js";
import type { ProgressFor } from "./transfer.js";

/** How a push reaches the registry and what it does there (from the command's flags). */
export interface PushSettings {
  /** Credentials, TLS, proxies, retries, timeouts, the cache (for mount hints). */
  registry: RegistryFlags;
  userAgent: string;
  /** Rewrite foreign layers to plain ones. */
  stripForeignUrls: boolean;
  /** Upload blobs larger than this many MiB in PATCH chunks of this size. */
  chunkMiB?: number;
  dryRun: boolean;
  /** Blob uploads at once (default 4). */
  jobs?: number;
  /** Progress displays: `verifying` (every blob read first), then `pushing`. */
  progress?: ProgressFor;
  onNote?: (text: string) => void;
}

function tuningOf(chunkMiB: number | undefined): Partial<UploadTuning> | undefined {
  if (chunkMiB === undefined) return undefined;
  const chunkSize = Math.round(chunkMiB * 1024 * 1024);
  return { chunkSize, monolithicMax: Math.min(DEFAULT_UPLOAD_TUNING.monolithicMax, chunkSize) };
}

/** Open a client for `registry` and its mount hints, and push with them. */
async function withRegistry(
  registry: string,
  settings: PushSettings,
  push: (options: PushOptions) => Promise<PushReport>,
): Promise<PushReport> {
  const client = await openClient(
    registry,
    await clientOptionsFromFlags(settings.registry, {
      ...(settings.onNote ? { onNote: settings.onNote } : {}),
      userAgent: settings.userAgent,
    }),
  );
  const verifying = settings.progress?.("verifying");
  const pushing = settings.dryRun ? undefined : settings.progress?.("pushing");
  try {
    const locations = await BlobLocations.open(
      registry,
      blobLocationsFile(settings.registry.cache ?? defaultCacheDir(), registry),
    );
    const tuning = tuningOf(settings.chunkMiB);
    return await push({
      client,
      locations,
      stripForeignUrls: settings.stripForeignUrls,
      dryRun: settings.dryRun,
      ...(pushing ? { onEvent: (event) => pushing.onEvent(event) } : {}),
      ...(verifying
        ? {
            onVerifyEvent: (event) => {
              verifying.onEvent(event);
              // Its bar goes before the push's starts.
              if (event.type === "commit") verifying.stop();
            },
          }
        : {}),
      ...(settings.onNote ? { onNote: settings.onNote } : {}),
      ...(settings.jobs ? { jobs: settings.jobs } : {}),
      ...(tuning ? { tuning } : {}),
    }).finally(() => {
      verifying?.stop();
      pushing?.stop();
    });
  } finally {
    client.close();
  }
}

/**
 * `ferry load BUNDLE --to registry:HOST[:PORT][/PREFIX]`: every image and platform the bundle
 * carries, named by the mapping rule, judged against this host's record of that registry.
 */
export function pushBundleToRegistry(
  bundle: string,
  target: RegistryTarget,
  settings: PushSettings & {
    trust: TrustedKey[];
    allowDowngrade: boolean;
    cosign?: CosignPolicy | undefined;
    partsFrom?: string | undefined;
  },
): Promise<PushReport> {
  return withRegistry(target.registry, settings, (options) =>
    pushBundle(bundle, target, {
      ...options,
      trust: settings.trust,
      ...(settings.cosign ? { cosign: settings.cosign } : {}),
      rollbackFile: registryRollbackFile(defaultStateDir(), target.registry),
      allowDowngrade: settings.allowDowngrade,
      partsFrom: settings.partsFrom,
    }),
  );
}

/**
 * `ferry push REF DEST` (one image, its full target name) or `ferry push --to
 * registry:HOST[/PREFIX] REF...` (each named by the mapping rule): images from the store.
 */
export function pushStoreImages(
  storeDir: string,
  what: { refs: string[]; target: RegistryTarget } | { ref: string; dest: string },
  settings: PushSettings,
): Promise<PushReport> {
  if ("dest" in what) {
    const registry = parseDestination(what.dest, "localhost/x:latest").registry;
    const requests: StorePushRequest[] = [{ ref: what.ref, dest: what.dest }];
    return withRegistry(registry, settings, (options) =>
      pushFromStore(storeDir, requests, undefined, options),
    );
  }
  const requests = what.refs.map((ref) => ({ ref }));
  return withRegistry(what.target.registry, settings, (options) =>
    pushFromStore(storeDir, requests, what.target, options),
  );
}
