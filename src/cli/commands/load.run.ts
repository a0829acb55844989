import { UsageError } from "../../errors.js";
import type { ExportReport } from "../../ops/export.js";
import type { LoadReport } from "../../ops/load.js";
import { loadTo } from "../../ops/load-to.js";
import {
  type DestinationSpec,
  destinationOptions,
  destinationRole,
  optionValues,
} from "../../transports/table.js";
import { platformSelector, toolName } from "../context.js";
import { cosignPolicy } from "../cosign-policy.js";
import { chooseDestination, defaultPlatforms } from "../destination.js";
import { cancellation } from "../interrupt.js";
import { refuseWimAsBundle } from "../not-a-bundle.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { trustedKeys } from "../trust-options.js";
import { copyTable, skippedLines } from "./copy-lines.js";
import type { LoadFlags } from "./load.js";
import { loadedOsImageLines } from "./os-image-lines.js";
import { describePush } from "./push.js";

/** `ferry load BUNDLE [--to DESTINATION]` (loaded when the command runs: see ./load.ts). */
export async function runLoad(bundle: string, flags: LoadFlags): Promise<void> {
  const out = createOutput(flags);
  const chosen = chooseDestination(
    [
      { flag: "--to", value: flags.to },
      { flag: "--to-registry", value: flags.toRegistry, kind: "registry" },
      { flag: "--docker-archive", value: flags.dockerArchive, kind: "docker-archive" },
      { flag: "--store", value: flags.store, kind: "store" },
      // Plain switches: the same as `--to docker` / `--to containerd` (no WHERE of their own).
      { flag: "--to-docker", value: flags.toDocker ? "docker" : undefined },
      { flag: "--to-containerd", value: flags.toContainerd ? "containerd" : undefined },
    ],
    undefined,
    "store",
    optionValues(flags, destinationOptions()),
  );
  if (chosen.spec.transport === "registry" && flags.platform !== undefined) {
    throw new UsageError(`--platform cannot be combined with ${chosen.label}`, {
      hint: "a registry gets every image and platform the bundle carries",
    });
  }
  await refuseWimAsBundle(bundle, "load");
  const result = await loadTo(bundle, chosen.spec, {
    trust: await trustedKeys(flags),
    cosign: await cosignPolicy(flags),
    dryRun: flags.dryRun === true,
    ...(flags.jobs ? { jobs: flags.jobs } : {}),
    progress: (operation) => createProgress(operation, !flags.json && !flags.quiet),
    onNote: out.note,
    storeDir: resolveStoreDir,
    latest: flags.latest !== false,
    allowDowngrade: flags.allowDowngrade === true,
    partsFrom: flags.partsFrom,
    // The first Ctrl-C stops the copy cleanly (see cli/interrupt.ts).
    signal: cancellation(),
    // One platform per image (docker): the engine's (else this machine's) unless --platform
    // says; else all of them.
    platforms: platformSelector(
      flags.platform,
      await defaultPlatforms(chosen.spec, flags.platform),
    ),
    push: {
      registry: flags,
      userAgent: toolName(),
      stripForeignUrls: flags.stripForeignUrls === true,
      ...(flags.chunkSize !== undefined ? { chunkMiB: flags.chunkSize } : {}),
    },
  });
  switch (result.transport) {
    case "store":
      for (const warning of result.report.warnings ?? []) out.note(`warning: ${warning}`);
      out.result(result.report, () => describeLoad(result.report));
      break;
    case "registry":
      out.result(result.report, () => describePush(result.report));
      break;
    case "copy":
      out.result(result.report, () => describeCopy(bundle, result.destination, result.report));
      break;
  }
}

function describeLoad(report: LoadReport): string {
  return [
    formatTable(
      ["IMAGE", "STATUS", "DIGEST"],
      report.images.map((i) => [
        i.ref,
        i.previous ? `${i.status} (was ${i.previous.slice(0, 19)})` : i.status,
        i.digest,
      ]),
    ),
    ...loadedOsImageLines(report),
    "",
    loadVerdict(report),
  ].join("\n");
}

function loadVerdict(report: LoadReport): string {
  const written = formatSize(report.bytesWritten);
  const present = `${report.blobsSkipped} already present (${formatSize(report.bytesSkipped)})`;
  if (report.dryRun) {
    return `dry run: would load ${report.images.length} image(s) into ${report.store}: ${report.blobsWritten} blob(s) to write (${written}, each verified), ${present}; nothing was written`;
  }
  return `loaded ${report.images.length} image(s) into ${report.store}: ${report.blobsWritten} blobs written (${written}), ${present}, in ${formatSeconds(report.seconds)}`;
}

/**
 * A bundle copied to a destination that takes a plain copy (a docker-archive tarball, an
 * engine): its images, what became of each where the destination tells, what it left out.
 */
function describeCopy(bundle: string, destination: DestinationSpec, report: ExportReport): string {
  const copy = destinationRole(destination).copy;
  const next = copy?.nextStep?.(destination);
  const output = report.output;
  return [
    copyTable(report, copy?.nameHeading),
    ...skippedLines(report),
    "",
    report.dryRun
      ? `dry run: verified ${bundle}; ${output} would hold ${report.images.length} image(s), ${report.blobs} blob(s) (${formatSize(report.bytes)}); nothing was written`
      : report.images.some((i) => i.status)
        ? `verified ${bundle} and loaded ${report.images.length} image(s) into ${output} (${formatSize(report.bytes)} sent), each checked there`
        : `verified ${bundle} and wrote ${output} (${formatSize(report.bytes)})${next ? `; run: ${next}` : ""}`,
  ].join("\n");
}
