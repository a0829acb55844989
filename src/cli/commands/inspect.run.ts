import { stat } from "node:fs/promises";
import { FerryError } from "../../errors.js";
import { inspectStoredImage } from "../../ops/image-info.js";
import { inspectBundle } from "../../ops/inspect-bundle.js";
import { summarizeAttached } from "../../types/attached.js";
import { terminalSafeJson } from "../../types/terminal-text.js";
import { createOutput, escapeControls, formatSize, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import { attachedLines } from "./attached-lines.js";
import type { InspectFlags } from "./inspect.js";
import { osImageLines } from "./os-image-lines.js";
import { formatPartSize } from "./repair.js";

async function isFile(target: string): Promise<boolean> {
  return (await stat(target).catch(() => undefined))?.isFile() ?? false;
}

/** `ferry inspect BUNDLE|REF` (loaded when the command runs: see ./inspect.ts). */
export async function runInspect(bundle: string, flags: InspectFlags): Promise<void> {
  const out = createOutput(flags);
  if (!(await isFile(bundle))) {
    const details = await inspectStoredImage(resolveStoreDir(flags.store), bundle);
    out.result(details, () => terminalSafeJson(details, 2));
    return;
  }
  const report = await inspectBundle(bundle);
  const anyAttached = report.images.some((i) => i.attached);
  out.result(report, () => {
    const lines = [
      `bundle:   ${escapeControls(report.bundle)}`,
      `id:       ${escapeControls(report.id ?? "?")}`,
      `created:  ${escapeControls(report.created ?? "?")} by ${escapeControls(report.tool ?? "?")}`,
      `content:  ${report.images.length} image(s), ${report.blobs} blobs, ${formatSize(report.bytes)}`,
      ...(report.split
        ? [
            `split:    ${report.split.parts} part(s)${report.split.partSize ? ` of ${formatPartSize(report.split.partSize)}` : ""}, read in place${report.split.parity ? `; parity ${report.split.parity}` : "; no parity"}`,
          ]
        : []),
      `delta:    ${report.delta ? `yes: requires ${report.delta.requires} blob(s) (${formatSize(report.delta.requiredBytes)}) from its base` : "no (full bundle)"}`,
      "",
      formatTable(
        [
          "IMAGE",
          "KIND",
          "PLATFORMS",
          "DIGEST",
          "BLOBS",
          "SIZE",
          ...(anyAttached ? ["ATTACHED"] : []),
        ],
        report.images.map((i) => [
          i.ref,
          i.artifactType ? "artifact" : i.kind,
          i.platforms.join(",") || "-",
          i.digest,
          String(i.blobCount),
          formatSize(i.size),
          ...(anyAttached ? [summarizeAttached(i.attached) || "-"] : []),
        ]),
      ),
      ...attachedLines(report.images),
      ...osImageLines(report.osImages),
    ];
    if (report.problems.length > 0) {
      lines.push(
        "",
        `${report.problems.length} structural problem(s):`,
        ...report.problems.map((p) => `  ${escapeControls(p.message)}`),
      );
    }
    return lines.join("\n");
  });
  if (report.problems.length > 0) {
    // Listed above (or in the JSON): a problem found is a failure, as in verify and load.
    const integrity = report.problems.some((p) => p.code === "EINTEGRITY" || p.code === "ESIZE");
    throw new FerryError(
      integrity ? "EINTEGRITY" : "EBADBUNDLE",
      `${report.problems.length} structural problem(s) in ${bundle}`,
      {
        hint: "copy the bundle again from the original, or save a new one; `ferry verify` also checks every byte",
        details: { reported: true },
      },
    );
  }
}
