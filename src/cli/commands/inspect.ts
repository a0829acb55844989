import type { Command } from "commander";
import { inspectBundle } from "../../ops/inspect-bundle.js";
import { createOutput, formatSize, formatTable } from "../output.js";

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("describe a bundle (images, platforms, sizes, digests) without reading blob bytes")
    .argument("<bundle>", "the bundle zip")
    .option("--json", "print JSON")
    .action(async (bundle: string, flags: { json?: boolean }) => {
      const out = createOutput(flags);
      const report = await inspectBundle(bundle);
      out.result(report, () => {
        const lines = [
          `bundle:   ${report.bundle}`,
          `id:       ${report.id ?? "?"}`,
          `created:  ${report.created ?? "?"} by ${report.tool ?? "?"}`,
          `content:  ${report.images.length} image(s), ${report.blobs} blobs, ${formatSize(report.bytes)}`,
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
