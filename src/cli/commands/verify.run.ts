import { FerryError } from "../../errors.js";
import { type CosignVerdict, unsignedError } from "../../ops/cosign-check.js";
import { verifyBundle } from "../../ops/verify.js";
import { cosignPolicy } from "../cosign-policy.js";
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
  const cosign = await cosignPolicy(flags);
  const report = await verifyBundle(bundle, {
    onEvent: progress.onEvent,
    trust,
    ...(cosign ? { cosign } : {}),
    ...(flags.partsFrom ? { partsFrom: flags.partsFrom } : {}),
  }).finally(progress.stop);
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
    if (report.cosign) lines.push(...cosignLines(report.cosign.images));
    const verdict = report.ok
      ? `OK   ${report.bundle}: ${report.images.length} image(s), ${report.blobsChecked} blobs, ${formatSize(report.bytesChecked)} verified in ${formatSeconds(report.seconds)}`
      : report.problems.length > 0
        ? `${report.bundle}: ${report.problems.length} problem(s) found`
        : `${report.bundle}: every byte verified, but not every image is signed by a --cosign-key key`;
    return [...lines, verdict].join("\n");
  });
  const unsigned = report.cosign?.requireSigned
    ? report.cosign.images.filter((i) => !i.signed)
    : [];
  if (report.problems.length === 0 && unsigned.length > 0 && cosign) {
    const refusal = unsignedError(unsigned, cosign.keys, { nothingWritten: false, reported: true });
    if (refusal) throw refusal;
  }
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

/** One line per image: signed by which key, or why not (text from the bundle escaped). */
function cosignLines(images: CosignVerdict[]): string[] {
  return images.map((i) =>
    i.signed
      ? `SIGNED    ${escapeControls(i.ref)}  cosign signature by ${escapeControls(i.keys.join(", "))}`
      : `UNSIGNED  ${escapeControls(i.ref)}  ${escapeControls(i.rejected.length > 0 ? i.rejected.join("; ") : "no cosign signature")}`,
  );
}
