import { collectGarbage } from "../../ops/gc.js";
import { createOutput, formatSeconds, formatSize } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { GcFlags } from "./gc.js";

/** `ferry gc` (loaded when the command runs: see ./gc.ts). */
export async function runGc(flags: GcFlags): Promise<void> {
  const out = createOutput(flags);
  const report = await collectGarbage(resolveStoreDir(flags.store), {
    dryRun: Boolean(flags.dryRun),
  });
  out.result(
    report,
    () =>
      `${report.dryRun ? "would remove" : "removed"} ${report.blobsRemoved} unreferenced blob(s) (${formatSize(report.bytesFreed)}) and ${report.staleTemp.length} temp file(s) of interrupted runs (${formatSize(report.staleTempBytes)}); kept ${report.blobsKept} blob(s); ${formatSeconds(report.seconds)}`,
  );
}
