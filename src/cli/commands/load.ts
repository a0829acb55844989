import type { Command } from "commander";
import { loadBundle } from "../../ops/load.js";
import { positiveInteger } from "../context.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";

export function registerLoad(program: Command): void {
  program
    .command("load")
    .description("verify a bundle and install its images into the local store, atomically")
    .argument("<bundle>", "the bundle zip")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("-j, --jobs <n>", "blob writes at once", positiveInteger)
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress")
    .action(
      async (
        bundle: string,
        flags: { store?: string; jobs?: number; json?: boolean; quiet?: boolean },
      ) => {
        const out = createOutput(flags);
        const progress = createProgress("loading", !flags.json && !flags.quiet);
        const report = await loadBundle(bundle, {
          storeDir: resolveStoreDir(flags.store),
          onEvent: progress.onEvent,
          ...(flags.jobs ? { jobs: flags.jobs } : {}),
        }).finally(progress.stop);
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
            "",
            `loaded ${report.images.length} image(s) into ${report.store}: ${report.blobsWritten} blobs written (${formatSize(report.bytesWritten)}), ${report.blobsSkipped} already present (${formatSize(report.bytesSkipped)}), in ${formatSeconds(report.seconds)}`,
          ].join("\n"),
        );
      },
    );
}
