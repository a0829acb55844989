import { exportImages } from "../../ops/export.js";
import { hostPlatform } from "../../ops/registry-options.js";
import { platformSelector } from "../context.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import type { ExportFlags } from "./export.js";

/** `ferry export REF... -o images.tar` (loaded when the command runs: see ./export.ts). */
export async function runExport(refs: string[], flags: ExportFlags): Promise<void> {
  const out = createOutput(flags);
  const progress = createProgress("exporting", !flags.json && !flags.quiet);
  const report = await exportImages(resolveStoreDir(flags.store), refs, {
    output: flags.output,
    platforms: platformSelector(flags.platform, [hostPlatform()]),
    onEvent: progress.onEvent,
  }).finally(progress.stop);
  out.result(report, () =>
    [
      formatTable(
        ["IMAGE", "DOCKER NAME", "PLATFORM", "DIGEST"],
        report.images.map((i) => [i.ref, i.repoTag ?? "-", i.platforms.join(","), i.digest]),
      ),
      "",
      `wrote ${report.output}: ${report.images.length} image(s), ${report.blobs} blobs (${formatSize(report.bytes)}) in ${formatSeconds(report.seconds)}; run: docker load -i ${report.output}`,
    ].join("\n"),
  );
}
