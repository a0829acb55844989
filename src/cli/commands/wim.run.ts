import { extractOsImage } from "../../ops/wim-extract.js";
import { wimImageRole } from "../../transports/wim/artifact.js";
import { readWimInfo } from "../../transports/wim/reader.js";
import { legacyFullName } from "../../types/wim.js";
import { createOutput, escapeControls, formatSeconds, formatSize, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { WimExtractFlags, WimInfoFlags } from "./wim.js";

/** `ferry wim info FILE` (loaded when the command runs: see ./wim.ts). */
export async function runWimInfo(file: string, flags: WimInfoFlags): Promise<void> {
  const out = createOutput(flags);
  const info = await readWimInfo(file);
  out.result(info, () => {
    const base = info.images.find((i) => i.index === 1);
    const lines = [
      `file:         ${escapeControls(info.path)} (${formatSize(info.size)})`,
      `compression:  ${info.compression}, integrity table: ${info.hasIntegrityTable ? "yes" : "no"}, part ${info.partNumber} of ${info.totalParts}`,
    ];
    if (base?.name && base.version) {
      lines.push(`full name:    ${escapeControls(legacyFullName(base.name, base.version))}`);
    }
    lines.push(
      "",
      formatTable(
        ["INDEX", "NAME", "VERSION", "ARCH", "ROLE", "SIZE"],
        info.images.map((i) => [
          String(i.index),
          i.name ?? "-",
          i.version ?? "-",
          i.architecture ?? "-",
          wimImageRole(i.index),
          i.totalBytes === undefined ? "-" : formatSize(i.totalBytes),
        ]),
      ),
    );
    return lines.join("\n");
  });
}

/** `ferry wim extract REF DIR` (loaded when the command runs: see ./wim.ts). */
export async function runWimExtract(
  ref: string,
  dir: string,
  flags: WimExtractFlags,
): Promise<void> {
  const out = createOutput(flags);
  const report = await extractOsImage(resolveStoreDir(flags.store), ref, dir, {
    ...(flags.index ? { index: flags.index } : {}),
    onWarning: (line) => out.note(`wimlib: ${line}`),
  });
  out.result(
    report,
    () =>
      `extracted image ${report.index} (${escapeControls(report.imageName ?? "?")}) of ${escapeControls(report.ref)} (${escapeControls(report.fullName)}) to ${escapeControls(report.target)} in ${formatSeconds(report.seconds)}`,
  );
}
