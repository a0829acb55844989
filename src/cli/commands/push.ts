import { type Command, Help, type Option } from "commander";
import { UsageError } from "../../errors.js";
import type { PushReport } from "../../ops/push/report.js";
import type { RegistryFlags } from "../../ops/registry-options.js";
import { destinationForms, listForms } from "../../transports/table.js";
import { positiveInteger, storeOption } from "../context.js";
import { formatSeconds, formatSize, formatTable } from "../output.js";
import type { TrustFlags } from "../trust-options.js";
import { addRegistryOptions } from "./pull.js";

/**
 * The default of `--chunk-size`, in MiB, as help prints it: `DEFAULT_UPLOAD_TUNING.chunkSize`
 * of transports/registry/upload.ts, written out so that `--help` does not load the registry
 * client. test/cli/startup.test.ts keeps the two equal.
 */
export const DEFAULT_CHUNK_MIB = 64;

/** The flags of a push, from `ferry push` or `ferry load --to registry:HOST`. */
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
 * The push flags `ferry push` and `ferry load --to registry:` share, plus the registry flags
 * (credentials, TLS, retries) every registry command takes.
 */
export function addPushOptions(
  command: Command,
  options: { toRegistry: string; dryRun: string; helpLast?: boolean },
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
      `upload blobs larger than this in PATCH chunks of this size (default ${DEFAULT_CHUNK_MIB})`,
      chunkMiB,
    )
    .option("--dry-run", options.dryRun);
  addRegistryOptions(command, { downloads: true });
  for (const option of command.options) {
    if (option.long && !before.has(option.long)) pushOptionNames.add(option.long);
  }
  return command;
}

const pushOptionNames = new Set<string>();

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
  const attachedTags = report.images.flatMap((i) => i.attachedTags ?? []);
  const attachedCount = report.images.reduce((n, i) => n + (i.attached?.length ?? 0), 0);
  if (attachedCount > 0) {
    lines.push(
      "",
      report.dryRun
        ? `attached artifacts to push with their images: ${attachedCount} (signatures, attestations, SBOMs...)`
        : `attached artifacts pushed with their images: ${attachedCount}; the names that find them:`,
    );
    for (const t of attachedTags) lines.push(`  ${t.target}  ${t.status}`);
  }
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
  const { blobs, bytes, uploads } = report;
  const verified = report.verified
    ? `; every blob verified first (${report.verified.blobs}, ${formatSize(report.verified.bytes)})`
    : "";
  if (report.dryRun) {
    lines.push(
      `dry run: ${report.images.length} image(s) would be pushed to ${report.registry}: ${blobs.uploaded} blob(s) to upload (${formatSize(bytes.uploaded)}), ${blobs.mounted} to mount from other repositories (${formatSize(bytes.mounted)}), ${blobs.skipped} already there (${formatSize(bytes.skipped)}); ${report.manifestsPushed} manifest(s) to push${verified}; nothing was pushed`,
    );
    return lines.join("\n");
  }
  const cut =
    uploads.resumed + uploads.restarted > 0
      ? `; after cuts ${uploads.resumed} upload(s) resumed, ${uploads.restarted} started over`
      : "";
  lines.push(
    `pushed ${report.images.length} image(s) to ${report.registry}: ${blobs.uploaded} blobs uploaded (${formatSize(bytes.uploaded)}), ${blobs.mounted} mounted from other repositories (${formatSize(bytes.mounted)}), ${blobs.skipped} already there (${formatSize(bytes.skipped)}); ${report.manifestsPushed} manifests pushed${cut}${verified}; in ${formatSeconds(report.seconds)}`,
  );
  return lines.join("\n");
}

/** The push flags of `ferry load` (with --trust, --trust-dir). */
export interface LoadPushFlags extends PushFlags, TrustFlags {}

export interface PushCommandFlags extends PushFlags {
  to?: string;
  store?: string;
}

export function registerPush(program: Command): void {
  const command = program
    .command("push")
    .description(
      "push images from the local store into a registry: REF DEST, or REF... with --to registry:HOST",
    )
    .usage("[options] REF DEST | --to registry:HOST[:PORT][/PREFIX] REF...")
    .argument(
      "<args...>",
      "REF DEST (a stored image and its full target reference), or stored images with --to",
    )
    .option(
      "--to <destination>",
      `${listForms(destinationForms(["registry"]))}: push every REF there, named by the mapping rule (source host dropped, path kept under PREFIX)`,
    )
    .addOption(storeOption())
    .option("-j, --jobs <n>", "blob uploads at once (default 4)", positiveInteger)
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress or notes");
  addPushOptions(command, {
    toRegistry: "same as --to registry:HOST[:PORT][/PREFIX]",
    dryRun:
      "verify the images and show what would be pushed (new/updated/unchanged per image, blobs and bytes); push nothing",
  }).action(async (args: string[], flags: PushCommandFlags) => {
    const { runPush } = await import("./push.run.js");
    await runPush(args, flags);
  });
}
