import path from "node:path";
import { repairBundle } from "../../ops/repair.js";
import { createOutput, formatSeconds, formatSize } from "../output.js";
import type { RepairFlags } from "./repair.js";

/** `ferry repair BUNDLE.parts` (loaded when the command runs: see ./repair.ts). */
export async function runRepair(input: string, flags: RepairFlags): Promise<void> {
  const out = createOutput(flags);
  const report = await repairBundle(input, flags.out ? { out: flags.out } : {});
  out.result(report, () => {
    const rebuilt = report.rebuilt;
    if (!rebuilt) {
      return `OK   ${report.partsFile}: all ${report.volumes.length} volume(s) intact, nothing to repair`;
    }
    const lines = [
      ...report.volumes
        .filter((volume) => volume.status !== "ok")
        .map((volume) => `BAD  ${volume.message ?? volume.name}`),
      `REBUILT ${rebuilt.path} (${formatSize(rebuilt.size)}, sha256 ${rebuilt.sha256} as ${path.basename(report.partsFile)} records) in ${formatSeconds(report.seconds)}`,
    ];
    if (!rebuilt.replaced) {
      lines.push(
        `the parts were left as they are: read the rebuilt one from its folder with \`ferry verify ${report.partsFile} --parts-from ${path.dirname(rebuilt.path)}\` (and the same --parts-from on load), or copy ${rebuilt.name} beside the other parts`,
      );
    }
    return lines.join("\n");
  });
}
