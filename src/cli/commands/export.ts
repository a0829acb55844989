import type { Command } from "commander";
import { exportImages } from "../../ops/export.js";
import { hostPlatform } from "../../ops/registry-options.js";
import { collect, platformSelector } from "../context.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("write stored images as a tarball `docker load` accepts (Docker 25+ layout)")
    .argument("<ref...>", "image names in the store")
    .requiredOption("-o, --output <images.tar>", "the tarball (appears only when complete)")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "for multi-platform images: the one docker gets (default: this machine's)",
      collect,
    )
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress")
    .action(
      async (
        refs: string[],
        flags: {
          output: string;
          store?: string;
          platform?: string[];
          json?: boolean;
          quiet?: boolean;
        },
      ) => {
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
      },
    );
}
