import type { Command } from "commander";
import { FerryError } from "../../errors.js";
import { checkStore } from "../../ops/check.js";
import { createOutput, formatSeconds, formatSize } from "../output.js";
import { resolveStoreDir } from "../store-location.js";

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description(
      "re-hash every blob in the store, check every image is complete, find orphans and temp files",
    )
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("--repair", "remove orphan blobs and dead runs' temp files; quarantine damaged blobs")
    .option("--json", "print a JSON report")
    .action(async (flags: { store?: string; repair?: boolean; json?: boolean }) => {
      const out = createOutput(flags);
      const report = await checkStore(resolveStoreDir(flags.store), {
        repair: Boolean(flags.repair),
      });
      out.result(report, () => {
        const lines = report.problems.map(
          (p) =>
            `BAD  ${p.kind}  ${p.message}${p.images.length ? ` [breaks: ${p.images.join(", ")}]` : " [no image uses it]"}`,
        );
        if (report.orphans.length > 0) {
          const bytes = report.orphans.reduce((sum, o) => sum + o.size, 0);
          lines.push(
            `${report.orphans.length} orphan blob(s) (${formatSize(bytes)}) no image uses${flags.repair ? "" : ": `ferry check --repair` or `ferry gc` reclaims them"}`,
          );
        }
        if (report.staleTemp.length > 0) {
          lines.push(
            `${report.staleTemp.length} temp file(s) left by killed runs${flags.repair ? "" : ": `ferry check --repair` removes them"}`,
          );
        }
        if (report.repaired) {
          const r = report.repaired;
          lines.push(
            `repaired: removed ${r.orphansRemoved} orphan(s) (${formatSize(r.bytesFreed)}) and ${r.tempRemoved} temp file(s); quarantined ${r.quarantined.length} damaged blob(s)`,
          );
        }
        lines.push(
          report.ok
            ? `OK   ${report.store}: ${report.images} name(s), ${report.blobsChecked} blobs (${formatSize(report.bytesChecked)}) re-hashed in ${formatSeconds(report.seconds)}`
            : `${report.store}: ${report.problems.length} problem(s); load the bundles of the broken images again`,
        );
        return lines.join("\n");
      });
      if (!report.ok) {
        throw new FerryError("EINTEGRITY", `the store has ${report.problems.length} problem(s)`, {
          hint: "load the bundles of the broken images again (after `ferry check --repair` for damaged blobs)",
          details: { reported: true },
        });
      }
    });
}
