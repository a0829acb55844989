/**
 * `ferry report`: verify a bundle (every byte, its signer, cosign signatures with keys given),
 * then describe it for a reviewer, and write the page atomically. A bundle that fails
 * verification gets no report: a typed error, nothing written.
 */

import { FerryError } from "../errors.js";
import type { TrustedKey } from "../trust/keys.js";
import type { BundleManifest } from "../types/bundle.js";
import { renderHtml } from "../types/report/html.js";
import { renderMarkdown } from "../types/report/markdown.js";
import { buildReport, type TransferReport } from "../types/report/model.js";
import { terminalSafeJson } from "../types/terminal-text.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import type { CosignPolicy } from "./cosign-check.js";
import { type VerifyReport, verifyBundle } from "./verify.js";

export const REPORT_FORMATS = ["html", "md", "json"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportOptions {
  trust?: TrustedKey[];
  cosign?: CosignPolicy;
  /** An older bundle: the report lists what changed since (verified too). */
  since?: string;
}

/** Verify `path`; its checked ferry.json, or a typed error naming every problem. */
async function verified(
  path: string,
  options: ReportOptions,
): Promise<{ report: VerifyReport; manifest: BundleManifest }> {
  let manifest: BundleManifest | undefined;
  const report = await verifyBundle(path, {
    trust: options.trust ?? [],
    ...(options.cosign ? { cosign: { ...options.cosign, requireSigned: false } } : {}),
    onManifest: (m) => {
      manifest = m;
    },
  });
  if (report.problems.length > 0 || !manifest) {
    const integrity = report.problems.some((p) => p.code === "EINTEGRITY" || p.code === "ESIZE");
    const trust = report.problems.some((p) => p.code === "ETRUST");
    const listed = report.problems.slice(0, 5).map((p) => `\n  ${p.message}`);
    const more = report.problems.length > 5 ? `\n  ... ${report.problems.length - 5} more` : "";
    throw new FerryError(
      integrity ? "EINTEGRITY" : trust ? "ETRUST" : "EBADBUNDLE",
      `${path} failed verification (${report.problems.length} problem(s)); no report written:${listed.join("")}${more}`,
      {
        hint: "copy the bundle again from the original, or save a new one; `ferry verify` lists every problem",
      },
    );
  }
  return { report, manifest };
}

/** Verify the bundle (and `--since` bundle) and build its transfer report. */
export async function reportBundle(
  path: string,
  options: ReportOptions = {},
): Promise<TransferReport> {
  const { report, manifest } = await verified(path, options);
  const since = options.since
    ? await verified(options.since, { trust: options.trust ?? [] })
    : undefined;
  return buildReport({
    bundle: path,
    manifest,
    ...(report.signature ? { signer: report.signature } : {}),
    ...(report.cosign
      ? { cosign: { keys: report.cosign.keys, images: report.cosign.images } }
      : {}),
    ...(since && options.since
      ? { since: { bundle: options.since, manifest: since.manifest } }
      : {}),
  });
}

/** The report as text in a format. */
export function renderReport(report: TransferReport, format: ReportFormat): string {
  if (format === "html") return renderHtml(report);
  if (format === "md") return renderMarkdown(report);
  return `${terminalSafeJson(report, 2)}\n`;
}

/** Write the rendered report to `target` atomically (a crash leaves the old file or the new). */
export async function writeReport(target: string, text: string): Promise<void> {
  await writeFileAtomic(target, Buffer.from(text, "utf8"));
}
