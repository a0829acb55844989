import { defaultCacheDir } from "../../cache/blob-cache.js";
import { UsageError } from "../../errors.js";
import {
  parseDestination,
  parseRegistryTarget,
  type RegistryTarget,
} from "../../ops/name-mapping.js";
import {
  type PushOptions,
  type PushReport,
  pushBundle,
  pushFromStore,
  type StorePushRequest,
} from "../../ops/push.js";
import { clientOptionsFromFlags } from "../../ops/registry-options.js";
import { defaultStateDir, registryRollbackFile } from "../../ops/rollback.js";
import type { RegistryClient } from "../../transports/registry/client.js";
import { openClient } from "../../transports/registry/session.js";
import { DEFAULT_UPLOAD_TUNING, type UploadTuning } from "../../transports/registry/upload.js";
import { BlobLocations, blobLocationsFile } from "../../transports/registry/upload-locations.js";
import { toolName } from "../context.js";
import { createOutput, type Output } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { trustedKeys } from "../trust-options.js";
import { describePush, type LoadPushFlags, type PushCommandFlags, type PushFlags } from "./push.js";

function tuningOf(flags: PushFlags): Partial<UploadTuning> | undefined {
  if (flags.chunkSize === undefined) return undefined;
  const chunkSize = Math.round(flags.chunkSize * 1024 * 1024);
  return { chunkSize, monolithicMax: Math.min(DEFAULT_UPLOAD_TUNING.monolithicMax, chunkSize) };
}

async function withPush(
  registry: string,
  flags: PushFlags,
  out: Output,
  run: (options: PushOptions) => Promise<PushReport>,
): Promise<void> {
  const client: RegistryClient = await openClient(
    registry,
    await clientOptionsFromFlags(flags, { onNote: out.note, userAgent: toolName() }),
  );
  const progress = createProgress("pushing", !flags.json && !flags.quiet && !flags.dryRun);
  const verifying = createProgress("verifying", !flags.json && !flags.quiet);
  try {
    const locations = await BlobLocations.open(
      registry,
      blobLocationsFile(flags.cache ?? defaultCacheDir(), registry),
    );
    const tuning = tuningOf(flags);
    const report = await run({
      client,
      locations,
      stripForeignUrls: flags.stripForeignUrls === true,
      dryRun: flags.dryRun === true,
      onEvent: progress.onEvent,
      onVerifyEvent: (event) => {
        verifying.onEvent(event);
        // Its bar goes before the push's starts.
        if (event.type === "commit") verifying.stop();
      },
      onNote: out.note,
      ...(flags.jobs ? { jobs: flags.jobs } : {}),
      ...(tuning ? { tuning } : {}),
    }).finally(() => {
      verifying.stop();
      progress.stop();
    });
    out.result(report, () => describePush(report));
  } finally {
    client.close();
  }
}

/** `ferry load BUNDLE --to-registry HOST[:PORT][/PREFIX]` (called by the load command). */
export async function loadToRegistry(
  bundle: string,
  flags: LoadPushFlags & {
    store?: string;
    dockerArchive?: string;
    platform?: string[];
    allowDowngrade?: boolean;
  },
): Promise<void> {
  for (const [given, name] of [
    [flags.dockerArchive, "--docker-archive"],
    [flags.store, "--store"],
    [flags.platform, "--platform"],
  ] as const) {
    if (given !== undefined) {
      throw new UsageError(`${name} cannot be combined with --to-registry`, {
        hint: "--to-registry pushes every image and platform the bundle carries, and needs no store",
      });
    }
  }
  const out = createOutput(flags);
  const target = parseRegistryTarget(flags.toRegistry ?? "");
  const trust = await trustedKeys(flags);
  await withPush(target.registry, flags, out, (options) =>
    pushBundle(bundle, target, {
      ...options,
      trust,
      rollbackFile: registryRollbackFile(defaultStateDir(), target.registry),
      allowDowngrade: flags.allowDowngrade === true,
    }),
  );
}

/** `ferry push REF DEST` or `ferry push --to-registry HOST REF...` (see ./push.ts). */
export async function runPush(args: string[], flags: PushCommandFlags): Promise<void> {
  const out = createOutput(flags);
  let target: RegistryTarget | undefined;
  let requests: StorePushRequest[];
  let registry: string;
  if (flags.toRegistry !== undefined) {
    target = parseRegistryTarget(flags.toRegistry);
    registry = target.registry;
    requests = args.map((ref) => ({ ref }));
  } else {
    if (args.length !== 2) {
      throw new UsageError("ferry push takes REF DEST (or REF... with --to-registry HOST)", {
        hint: "e.g. ferry push alpine:3.19 registry.lan:5000/library/alpine:3.19",
      });
    }
    const [ref, dest] = args as [string, string];
    registry = parseDestination(dest, "localhost/x:latest").registry;
    requests = [{ ref, dest }];
  }
  const storeDir = resolveStoreDir(flags.store);
  await withPush(registry, flags, out, (options) =>
    pushFromStore(storeDir, requests, target, options),
  );
}
