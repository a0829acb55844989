import { FerryError } from "../../errors.js";
import { checkStore } from "../../ops/check.js";
import { createOutput, escapeControls, formatSeconds, formatSize } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { CheckFlags } from "./check.js";

/** `ferry check` (loaded when the command runs: see ./check.ts). */
export async function runCheck(flags: CheckFlags): Promise<void> {
  const out = createOutput(flags);
  const report = await checkStore(resolveStoreDir(flags.store), {
    repair: Boolean(flags.repair),
  });
  out.result(report, () => {
    const lines = report.problems.map(
      (p) =>
        `BAD  ${p.kind}  ${escapeControls(p.message)}${p.images.length ? ` [breaks: ${escapeControls(p.images.join(", "))}]` : " [no image uses it]"}`,
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
}
