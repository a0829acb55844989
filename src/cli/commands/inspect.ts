import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { inspectStoredImage } from "../../ops/image-info.js";
import { inspectBundle } from "../../ops/inspect-bundle.js";
import { createOutput, formatSize, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import { formatPartSize } from "./repair.js";
import { osImageLines } from "./wim.js";

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description(
      "describe a bundle (images, platforms, sizes, digests) without reading blob bytes, or a stored image (manifest and config)",
    )
    .argument(
      "<bundle|ref>",
      "a bundle file (or a split bundle's .parts file), or an image name in the store",
    )
    .option(
      "--store <dir>",
      "for an image name: the store (default: $FERRY_STORE or the per-OS default)",
    )
    .option("--json", "print JSON")
    .action(async (bundle: string, flags: { json?: boolean; store?: string }) => {
      const out = createOutput(flags);
      if (!(await isFile(bundle))) {
        const details = await inspectStoredImage(resolveStoreDir(flags.store), bundle);
        out.result(details, () => JSON.stringify(details, null, 2));
        return;
      }
      const report = await inspectBundle(bundle);
      out.result(report, () => {
        const lines = [
          `bundle:   ${report.bundle}`,
          `id:       ${report.id ?? "?"}`,
          `created:  ${report.created ?? "?"} by ${report.tool ?? "?"}`,
          `content:  ${report.images.length} image(s), ${report.blobs} blobs, ${formatSize(report.bytes)}`,
          ...(report.split
            ? [
                `split:    ${report.split.parts} part(s)${report.split.partSize ? ` of ${formatPartSize(report.split.partSize)}` : ""}, read in place${report.split.parity ? `; parity ${report.split.parity}` : "; no parity"}`,
              ]
            : []),
          `delta:    ${report.delta ? `yes: requires ${report.delta.requires} blob(s) (${formatSize(report.delta.requiredBytes)}) from its base` : "no (full bundle)"}`,
          "",
          formatTable(
            ["IMAGE", "KIND", "PLATFORMS", "DIGEST", "BLOBS", "SIZE"],
            report.images.map((i) => [
              i.ref,
              i.kind,
              i.platforms.join(",") || "-",
              i.digest,
              String(i.blobCount),
              formatSize(i.size),
            ]),
          ),
          ...osImageLines(report.osImages),
        ];
        if (report.problems.length > 0) {
          lines.push(
            "",
            `${report.problems.length} structural problem(s):`,
            ...report.problems.map((p) => `  ${p.message}`),
          );
        }
        return lines.join("\n");
      });
    });
}

async function isFile(target: string): Promise<boolean> {
  return (await stat(target).catch(() => undefined))?.isFile() ?? false;
}
