/**
 * The folder listing of `ferry search DIR` (and `ferry wim search DIR`): the .wim files of a
 * folder or file share with name, version, architecture and size. `ferry search` dispatches
 * here when its argument is a directory.
 */

import { searchWimFolder, type WimSearchReport } from "../../ops/wim-search.js";
import { createOutput, escapeControls, formatSize, formatTable } from "../output.js";

/** The human listing: one row per WIM (a split set once), then what is wrong with which file. */
export function formatWimSearch(report: WimSearchReport): string {
  if (report.files.length === 0) return `no .wim files in ${escapeControls(report.dir)}`;
  const table = formatTable(
    ["NAME", "VERSION", "ARCH", "IMAGES", "SIZE", "FILE"],
    report.files.map((row) => [
      row.ref?.split(":")[0] ?? row.name ?? "-",
      row.version ?? "-",
      row.architecture ?? "-",
      row.imageCount === undefined ? "-" : String(row.imageCount),
      formatSize(row.size),
      row.file,
    ]),
  );
  const problems = report.files
    .filter((row) => row.problem)
    .map((row) => `  ${escapeControls(row.file)}: ${escapeControls(row.problem?.message ?? "")}`);
  return problems.length > 0
    ? [table, "", `${problems.length} file(s) cannot be saved as they are:`, ...problems].join("\n")
    : table;
}

export interface WimSearchFlags {
  json?: boolean;
  recursive?: boolean;
}

/** List the WIMs of `dir` and print them (table, or JSON with --json). */
export async function runWimSearch(dir: string, flags: WimSearchFlags = {}): Promise<void> {
  const out = createOutput(flags);
  const report = await searchWimFolder(dir, { recursive: Boolean(flags.recursive) });
  out.result(report, () => formatWimSearch(report));
}
