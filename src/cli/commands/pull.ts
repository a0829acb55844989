import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import type { RegistryFlags } from "../../ops/registry-options.js";
import type { TransferStats } from "../../transports/registry/session.js";
import { destinationForms, listForms } from "../../transports/table.js";
import { collect, positiveInteger } from "../context.js";
import { formatSize } from "../output.js";

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100)
    throw new UsageError(`${value} is not a whole number from 0 to 100`);
  return n;
}

function bytesPerSecond(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1024 ** 3)
    throw new UsageError(`${value} is not a number of bytes per second (0 for no floor)`);
  return n;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600)
    throw new UsageError(`${value} is not a number of seconds from 1 to 3600`);
  return n;
}

/**
 * The flags every command that talks to registries shares (save, pull, tags, search);
 * `downloads` adds the cache and transfer tuning flags.
 */
export function addRegistryOptions(command: Command, options: { downloads: boolean }): Command {
  command
    .option(
      "--creds <user:password>",
      "credentials for the registries (default: ferry login, then docker's config)",
    )
    .option(
      "-u, --username <user>",
      "user name for the registries; the password comes from --password-stdin",
    )
    .option("--password-stdin", "read the password from stdin")
    .option(
      "--authfile <file>",
      "docker-format auth file (default: $FERRY_AUTH_FILE or ~/.config/ferry/auth.json; ~/.docker/config.json is read too)",
    )
    .option(
      "--insecure-registry <host>",
      "allow plain http and unverified TLS for this registry (repeatable)",
      collect,
    )
    .option(
      "--ca-cert <file>",
      "also trust this CA certificate (PEM), besides the system's and $NODE_EXTRA_CA_CERTS, for registries, token services and download URLs (repeatable)",
      collect,
    )
    .option(
      "--proxy <url>",
      'HTTP proxy for every request, loopback hosts too (default: $HTTPS_PROXY / $HTTP_PROXY, minus $NO_PROXY; "" for none)',
    )
    .option(
      "--timeout <seconds>",
      "give up on a request whose answer (a token, a manifest, a list; for a blob its first line and headers) takes longer (default 120)",
      positiveSeconds,
    );
  if (options.downloads) {
    command
      .option("--cache <dir>", "download cache (default: $FERRY_CACHE or ~/.cache/ferry)")
      .option(
        "--retries <n>",
        "retries after network errors, 5xx and 429 (default 5)",
        nonNegativeInteger,
      )
      .option(
        "--stall-timeout <seconds>",
        "give up on a connection that sends nothing this long (default 60)",
        positiveSeconds,
      )
      .option(
        "--min-rate <bytes-per-second>",
        "give up on a download that averages less over --stall-timeout seconds (default 1024; 0: no floor)",
        bytesPerSecond,
      );
  }
  return command;
}

/** One line about what the network and the cache did. */
export function describeTransfer(stats: TransferStats): string {
  const parts = [
    `downloaded ${formatSize(stats.bytesDownloaded)} (${stats.blobsDownloaded} blobs)`,
  ];
  if (stats.blobsFromCache > 0)
    parts.push(
      `${stats.blobsFromCache} blobs (${formatSize(stats.bytesFromCache)}) from the download cache`,
    );
  if (stats.blobsResumed > 0)
    parts.push(
      `${stats.blobsResumed} resumed after ${formatSize(stats.bytesResumed)} already there`,
    );
  return parts.join(", ");
}

/** The note about foreign layers left out under --skip-foreign. */
export function describeOmitted(
  omitted: Array<{ digest: string; size: number; images?: string[] }>,
): string {
  const lines = omitted.map(
    (blob) =>
      `  ${blob.digest} (${formatSize(blob.size)})${blob.images?.length ? ` of ${blob.images.join(", ")}` : ""}`,
  );
  return [
    `left out ${omitted.length} foreign layer(s) (--skip-foreign); the bundle lists them as required, so the receiving side must have them:`,
    ...lines,
  ].join("\n");
}

/** `--attached TYPE` (repeatable) and `--no-attached`, for save and pull. */
export interface AttachedFlags {
  /** TYPE values, or false for --no-attached. */
  attached?: string[] | false;
}

/** Add `--attached TYPE` and `--no-attached` (what is attached to images: carried by default). */
export function addAttachedOptions(command: Command): Command {
  return command
    .option(
      "--attached <type>",
      "carry only these attached artifacts (repeatable): signature, attestation, sbom, artifact, or an artifactType / media type (default: everything attached: signatures, attestations, SBOMs, other referrers)",
      collect,
    )
    .option(
      "--no-attached",
      "carry no signatures, attestations, SBOMs or other referrers (a platform subset of a buildx index then drops its attestation manifests too)",
    );
}

export interface PullFlags extends RegistryFlags, AttachedFlags {
  to?: string;
  store?: string;
  platform?: string[];
  json?: boolean;
  quiet?: boolean;
}

export function registerPull(program: Command): void {
  const command = program
    .command("pull")
    .description("pull images from registries straight into the local store (on a connected host)")
    .argument(
      "<reference...>",
      "image references: alpine:3.19, host:5000/team/app@sha256:..., docker://REF",
    )
    .option(
      "--to <destination>",
      `${listForms(destinationForms(["store"]))}: the store to pull into (no DIR: $FERRY_STORE or the per-OS default)`,
    )
    .option("--store <dir>", "same as --to store:DIR")
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "platform(s) to keep, repeatable, or 'all' (default: this machine's)",
      collect,
    )
    .option("-j, --jobs <n>", "downloads at once (default 4)", positiveInteger)
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress or notes");
  addAttachedOptions(command);
  addRegistryOptions(command, { downloads: true }).action(
    async (references: string[], flags: PullFlags) => {
      const { runPull } = await import("./pull.run.js");
      await runPull(references, flags);
    },
  );
}
