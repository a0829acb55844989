import type { Command } from "commander";
import { collectGarbage } from "../../ops/gc.js";
import { createOutput, formatSeconds, formatSize } from "../output.js";
import { resolveStoreDir } from "../store-location.js";

export function registerGc(program: Command): void {
  program
    .command("gc")
    .description(
      "remove blobs no image names and temp files of killed runs; say how many bytes were freed",
    )
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("-n, --dry-run", "only say what would be removed")
    .option("--json", "print JSON")
    .action(async (flags: { store?: string; dryRun?: boolean; json?: boolean }) => {
      const out = createOutput(flags);
      const report = await collectGarbage(resolveStoreDir(flags.store), {
        dryRun: Boolean(flags.dryRun),
      });
      out.result(
        report,
        () =>
          `${report.dryRun ? "would remove" : "removed"} ${report.blobsRemoved} unreferenced blob(s) (${formatSize(report.bytesFreed)}) and ${report.staleTemp.length} temp file(s); kept ${report.blobsKept} blob(s); ${formatSeconds(report.seconds)}`,
      );
    });
}
