import type { Command } from "commander";
import { FerryError } from "../../errors.js";
import { verifyBundle } from "../../ops/verify.js";
import { createOutput, formatSeconds, formatSize } from "../output.js";
import { createProgress } from "../progress.js";

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("check a bundle's structure and every byte; report every bad entry")
    .argument("<bundle>", "the bundle zip")
    .option("--json", "print a JSON report")
    .option("-q, --quiet", "no progress")
    .action(async (bundle: string, flags: { json?: boolean; quiet?: boolean }) => {
      const out = createOutput(flags);
      const progress = createProgress("verifying", !flags.json && !flags.quiet);
      const report = await verifyBundle(bundle, { onEvent: progress.onEvent }).finally(
        progress.stop,
      );
      out.result(report, () => {
        const lines = report.problems.map((p) => {
          const images = p.images?.length ? ` [images: ${p.images.join(", ")}]` : "";
          return `BAD  ${p.code}  ${p.message}${images}`;
        });
        const verdict = report.ok
          ? `OK   ${report.bundle}: ${report.images.length} image(s), ${report.blobsChecked} blobs, ${formatSize(report.bytesChecked)} verified in ${formatSeconds(report.seconds)}`
          : `${report.bundle}: ${report.problems.length} problem(s) found`;
        return [...lines, verdict].join("\n");
      });
      if (!report.ok) {
        const integrity = report.problems.some(
          (p) => p.code === "EINTEGRITY" || p.code === "ESIZE",
        );
        throw new FerryError(
          integrity ? "EINTEGRITY" : "EBADBUNDLE",
          `verification failed: ${report.problems.length} problem(s) in ${bundle}`,
          {
            hint: "copy the bundle again from the original, or save a new one",
            details: { reported: true },
          },
        );
      }
    });
}
