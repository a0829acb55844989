import { bundleToDockerArchive } from "../../ops/export.js";
import { type LoadReport, loadBundle } from "../../ops/load.js";
import { dryRunLoad } from "../../ops/load-dry-run.js";
import { hostPlatform } from "../../ops/registry-options.js";
import { platformSelector } from "../context.js";
import { cancellation } from "../interrupt.js";
import { createOutput, formatSeconds, formatSize, formatTable, type Output } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { type TrustFlags, trustedKeys } from "../trust-options.js";
import type { LoadFlags } from "./load.js";
import { loadedOsImageLines } from "./os-image-lines.js";

/** `ferry load BUNDLE` (loaded when the command runs: see ./load.ts). */
export async function runLoad(bundle: string, flags: LoadFlags): Promise<void> {
  const out = createOutput(flags);
  if (flags.toRegistry !== undefined) {
    const { loadToRegistry } = await import("./push.run.js");
    await loadToRegistry(bundle, flags);
    return;
  }
  if (flags.dockerArchive) {
    await loadToDockerArchive(bundle, flags.dockerArchive, flags, out);
    return;
  }
  const progress = createProgress(
    flags.dryRun ? "verifying" : "loading",
    !flags.json && !flags.quiet,
  );
  const options = {
    storeDir: resolveStoreDir(flags.store),
    onEvent: progress.onEvent,
    ...(flags.jobs ? { jobs: flags.jobs } : {}),
    latest: flags.latest !== false,
    allowDowngrade: flags.allowDowngrade === true,
    trust: await trustedKeys(flags),
    signal: cancellation(),
  };
  const report = await (flags.dryRun
    ? dryRunLoad(bundle, options)
    : loadBundle(bundle, options)
  ).finally(progress.stop);
  for (const warning of report.warnings ?? []) out.note(`warning: ${warning}`);
  out.result(report, () =>
    [
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
    ].join("\n"),
  );
}

function loadVerdict(report: LoadReport): string {
  const written = formatSize(report.bytesWritten);
  const present = `${report.blobsSkipped} already present (${formatSize(report.bytesSkipped)})`;
  if (report.dryRun) {
    return `dry run: would load ${report.images.length} image(s) into ${report.store}: ${report.blobsWritten} blob(s) to write (${written}, each verified), ${present}; nothing was written`;
  }
  return `loaded ${report.images.length} image(s) into ${report.store}: ${report.blobsWritten} blobs written (${written}), ${present}, in ${formatSeconds(report.seconds)}`;
}

async function loadToDockerArchive(
  bundle: string,
  output: string,
  flags: TrustFlags & { platform?: string[]; json?: boolean; quiet?: boolean; dryRun?: boolean },
  out: Output,
): Promise<void> {
  const progress = createProgress(
    flags.dryRun ? "verifying" : "exporting",
    !flags.json && !flags.quiet,
  );
  const report = await bundleToDockerArchive(bundle, {
    output,
    platforms: platformSelector(flags.platform, [hostPlatform()]),
    trust: await trustedKeys(flags),
    onEvent: progress.onEvent,
    ...(flags.dryRun ? { dryRun: true } : {}),
  }).finally(progress.stop);
  out.result(report, () =>
    [
      formatTable(
        ["IMAGE", "DOCKER NAME", "PLATFORM"],
        report.images.map((i) => [i.ref, i.repoTag ?? "-", i.platforms.join(",")]),
      ),
      "",
      report.dryRun
        ? `dry run: verified ${bundle}; ${output} would hold ${report.images.length} image(s), ${report.blobs} blob(s) (${formatSize(report.bytes)}); nothing was written`
        : `verified ${bundle} and wrote ${output} (${formatSize(report.bytes)}); run: docker load -i ${output}`,
    ].join("\n"),
  );
}
