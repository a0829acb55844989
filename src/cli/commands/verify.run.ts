import { FerryError } from "../../errors.js";
import { verifyBundle } from "../../ops/verify.js";
import { createOutput, escapeControls, formatSeconds, formatSize } from "../output.js";
import { createProgress } from "../progress.js";
import { trustedKeys } from "../trust-options.js";
import { splitLines } from "./repair.js";
import type { VerifyFlags } from "./verify.js";

/** `ferry verify BUNDLE` (loaded when the command runs: see ./verify.ts). */
export async function runVerify(bundle: string, flags: VerifyFlags): Promise<void> {
  const out = createOutput(flags);
  const progress = createProgress("verifying", !flags.json && !flags.quiet);
  const trust = await trustedKeys(flags);
  const report = await verifyBundle(bundle, { onEvent: progress.onEvent, trust }).finally(
    progress.stop,
  );
  out.result(report, () => {
    const lines = report.problems.map((p) => {
      const images = p.images?.length ? ` [images: ${escapeControls(p.images.join(", "))}]` : "";
      return `BAD  ${p.code}  ${escapeControls(p.message)}${images}`;
    });
    if (report.signature) {
      lines.push(
        report.signature.verified
          ? `signed by trusted key ${report.signature.keyId}`
          : `signed by key ${report.signature.keyId} (not checked: no --trust given)`,
      );
    }
    if (report.split) lines.push(...splitLines(report.split));
    const verdict = report.ok
      ? `OK   ${report.bundle}: ${report.images.length} image(s), ${report.blobsChecked} blobs, ${formatSize(report.bytesChecked)} verified in ${formatSeconds(report.seconds)}`
      : `${report.bundle}: ${report.problems.length} problem(s) found`;
    return [...lines, verdict].join("\n");
  });
  if (!report.ok) {
    const integrity = report.problems.some((p) => p.code === "EINTEGRITY" || p.code === "ESIZE");
    throw new FerryError(
      integrity ? "EINTEGRITY" : "EBADBUNDLE",
      `verification failed: ${report.problems.length} problem(s) in ${bundle}`,
      {
        hint: report.split?.repair?.possible
          ? `rebuild it: ${report.split.repair.command} (add --out DIR if that folder is read-only)`
          : report.split && !report.split.partsOk
            ? "copy the damaged or missing part(s) again from the original, or save a new bundle"
            : "copy the bundle again from the original, or save a new one",
        details: { reported: true },
      },
    );
  }
}
