import { type Command, Help, type Option } from "commander";
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
import { clientOptionsFromFlags, type RegistryFlags } from "../../ops/registry-options.js";
import type { RegistryClient } from "../../transports/registry/client.js";
import { openClient } from "../../transports/registry/session.js";
import { DEFAULT_UPLOAD_TUNING, type UploadTuning } from "../../transports/registry/upload.js";
import { BlobLocations, blobLocationsFile } from "../../transports/registry/upload-locations.js";
import { positiveInteger, toolName } from "../context.js";
import { createOutput, formatSeconds, formatSize, formatTable, type Output } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { type TrustFlags, trustedKeys } from "../trust-options.js";
import { addRegistryOptions } from "./pull.js";

/** The flags of a push, from `ferry push` or `ferry load --to-registry`. */
export interface PushFlags extends RegistryFlags {
  toRegistry?: string;
  stripForeignUrls?: boolean;
  /** MiB. */
  chunkSize?: number;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
}

function chunkMiB(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.0625 || n > 4096)
    throw new UsageError(`--chunk-size ${value}: give MiB, from 0.0625 to 4096`);
  return n;
}

/**
 * The push flags `ferry push` and `ferry load --to-registry` share, plus the registry flags
 * (credentials, TLS, retries) every registry command takes.
 */
export function addPushOptions(
  command: Command,
  options: { toRegistry: string; helpLast?: boolean },
): Command {
  const before = new Set(command.options.map((o) => o.long));
  if (options.helpLast) {
    // In `--help`, after the command's own options (they are added before them).
    command.configureHelp({
      visibleOptions(cmd) {
        const all = Help.prototype.visibleOptions.call(this, cmd);
        const added = (o: Option) => !before.has(o.long) && pushOptionNames.has(o.long ?? "");
        const help = (o: Option) => o.long === "--help";
        return [
          ...all.filter((o) => !added(o) && !help(o)),
          ...all.filter(added),
          ...all.filter(help),
        ];
      },
    });
  }
  command
    .option("--to-registry <host[:port][/prefix]>", options.toRegistry)
    .option(
      "--strip-foreign-urls",
      "rewrite foreign (non-distributable) layers as plain ones without URLs; new manifest digests are reported",
    )
    .option(
      "--chunk-size <MiB>",
      `upload blobs larger than this in PATCH chunks of this size (default ${DEFAULT_UPLOAD_TUNING.chunkSize / 1024 / 1024})`,
      chunkMiB,
    )
    .option("--dry-run", "show what would go where; push nothing");
  addRegistryOptions(command, { downloads: true });
  for (const option of command.options) {
    if (option.long && !before.has(option.long)) pushOptionNames.add(option.long);
  }
  return command;
}

const pushOptionNames = new Set<string>();

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
      onNote: out.note,
      ...(flags.jobs ? { jobs: flags.jobs } : {}),
      ...(tuning ? { tuning } : {}),
    }).finally(progress.stop);
    out.result(report, () => describePush(report));
  } finally {
    client.close();
  }
}

/** The human summary of a push. */
export function describePush(report: PushReport): string {
  const lines = [
    formatTable(
      ["SOURCE", "TARGET", "STATUS", "DIGEST"],
      report.images.map((i) => [
        i.source,
        i.target,
        i.previous ? `${i.status} (was ${i.previous.slice(0, 19)})` : i.status,
        i.digest,
      ]),
    ),
  ];
  if (report.rewritten.length > 0) {
    lines.push("", "rewritten by --strip-foreign-urls (foreign layers made plain):");
    for (const r of report.rewritten) {
      lines.push(
        `  ${r.image}: ${r.from} -> ${r.to}${r.layers ? ` (${r.layers} layer(s))` : " (index)"}`,
      );
    }
  }
  if (report.omitted.length > 0) {
    lines.push("", "foreign layers the bundle does not carry (their manifests keep the URLs):");
    for (const o of report.omitted) lines.push(`  ${o.digest} (${formatSize(o.size)})`);
  }
  lines.push("");
  if (report.dryRun) {
    lines.push(`dry run: ${report.images.length} image(s) would be pushed to ${report.registry}`);
    return lines.join("\n");
  }
  const { blobs, bytes, uploads } = report;
  const cut =
    uploads.resumed + uploads.restarted > 0
      ? `; after cuts ${uploads.resumed} upload(s) resumed, ${uploads.restarted} started over`
      : "";
  lines.push(
    `pushed ${report.images.length} image(s) to ${report.registry}: ${blobs.uploaded} blobs uploaded (${formatSize(bytes.uploaded)}), ${blobs.mounted} mounted from other repositories (${formatSize(bytes.mounted)}), ${blobs.skipped} already there (${formatSize(bytes.skipped)}); ${report.manifestsPushed} manifests pushed${cut}; in ${formatSeconds(report.seconds)}`,
  );
  return lines.join("\n");
}

/** The flags `ferry load` passes to `loadToRegistry` (also --trust, --trust-dir). */
export interface LoadPushFlags extends PushFlags, TrustFlags {}

/** `ferry load BUNDLE --to-registry HOST[:PORT][/PREFIX]` (called by the load command). */
export async function loadToRegistry(
  bundle: string,
  flags: LoadPushFlags & { store?: string; dockerArchive?: string; platform?: string[] },
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
    pushBundle(bundle, target, { ...options, trust }),
  );
}

interface PushCommandFlags extends PushFlags {
  store?: string;
}

export function registerPush(program: Command): void {
  const command = program
    .command("push")
    .description(
      "push images from the local store into a registry: REF DEST, or REF... with --to-registry",
    )
    .usage("[options] REF DEST | --to-registry HOST[:PORT][/PREFIX] REF...")
    .argument(
      "<args...>",
      "REF DEST (a stored image and its full target reference), or stored images with --to-registry",
    )
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("-j, --jobs <n>", "blob uploads at once (default 4)", positiveInteger)
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress or notes");
  addPushOptions(command, {
    toRegistry:
      "push every REF to this registry, named by the mapping rule (source host dropped, path kept under PREFIX)",
  }).action(async (args: string[], flags: PushCommandFlags) => {
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
  });
}
