/**
 * Lines of the reports of copies to a destination that takes a plain copy (`load --to docker`,
 * `export --to ...`): shared by the load and export actions (loaded when they run).
 */

import type { ExportReport } from "../../ops/export.js";
import { escapeControls, formatTable } from "../output.js";

/** The images of a copy: name there, platforms, and status and ID where the destination tells. */
export function copyTable(report: ExportReport, nameHeading = "NAME"): string {
  const outcomes = report.images.some((i) => i.status);
  return formatTable(
    ["IMAGE", nameHeading, "PLATFORM", ...(outcomes ? ["STATUS", "ID"] : [])],
    report.images.map((i) => [
      i.ref,
      i.repoTag ?? "-",
      i.platforms.join(","),
      ...(outcomes
        ? [
            i.previous ? `${i.status} (was ${i.previous.slice(0, 19)})` : (i.status ?? "-"),
            i.id ?? "-",
          ]
        : []),
    ]),
  );
}

/** The images a copy left out, and why (Windows base OS images are not container images). */
export function skippedLines(report: ExportReport): string[] {
  return (report.skipped ?? []).map((s) => `skipped ${escapeControls(s.ref)}: ${s.reason}`);
}
