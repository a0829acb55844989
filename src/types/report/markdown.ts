/** The transfer report as Markdown (every text from the bundle escaped). Pure, no I/O. */

import { escapeMarkdown as m } from "./escape.js";
import { attachedSummary, reportSize, type TransferReport } from "./model.js";

const code = (text: string) => `\`${text.replace(/[^\w:./@+-]/g, "?")}\``;

function table(headers: string[], rows: string[][]): string[] {
  return [
    `| ${headers.join(" | ")} |`,
    `|${headers.map(() => " --- ").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** The report as a Markdown document. */
export function renderMarkdown(report: TransferReport): string {
  const lines = [
    `# Transfer report: bundle ${m(report.id)}`,
    "",
    `- Bundle: ${m(report.bundle)}`,
    `- Created: ${m(report.created)} by ${m(report.tool)}`,
    ...(report.sequence !== null ? [`- Sequence: ${report.sequence}`] : []),
    `- Signer: ${
      report.signer
        ? `${m(report.signer.keyId)} (${report.signer.verified ? "verified against a --trust key" : "not checked: no --trust key given"})`
        : "unsigned"
    }`,
    "- Integrity: every byte verified against its digest",
    `- Size: ${report.images.length} image(s), ${report.sizes.carriedBlobs} blobs, ${reportSize(report.sizes.carriedBytes)} carried`,
    ...(report.base
      ? [
          `- Delta: needs ${report.sizes.requiredBlobs} blob(s) (${reportSize(report.sizes.requiredBytes)}) from its base: ${m(`${report.base.kind} ${report.base.id ?? ""} ${report.base.description ?? ""}`.trim())}`,
        ]
      : []),
    ...(report.cosignKeys.length ? [`- Cosign keys: ${report.cosignKeys.map(m).join(", ")}`] : []),
  ];
  if (report.since) {
    lines.push(
      "",
      `## Changes since ${m(report.since.bundle)} (bundle ${m(report.since.id)})`,
      "",
      ...table(
        ["Image", "Change", "Old digest", "New digest"],
        report.since.changes.map((c) => [
          m(c.ref),
          c.change,
          c.oldDigest ? code(c.oldDigest) : "-",
          c.newDigest ? code(c.newDigest) : "-",
        ]),
      ),
    );
  }
  lines.push(
    "",
    "## Images",
    "",
    ...table(
      [
        "Image",
        "Digest",
        "Platforms",
        "OS version",
        "Size",
        "Source",
        "Attached",
        ...(report.base ? ["Delta"] : []),
      ],
      report.images.map((i) => [
        m(i.ref),
        code(i.digest),
        m(i.platforms.join(", ") || "-"),
        m(i.osVersions.join(", ") || "-"),
        reportSize(i.size),
        m(i.source),
        m(attachedSummary(i)),
        ...(report.base ? [i.delta ?? ""] : []),
      ]),
    ),
  );
  const shared = report.images.flatMap((i) =>
    i.sharedLayers.map((l) => [m(i.ref), code(l.digest), reportSize(l.size), m(l.with.join(", "))]),
  );
  if (shared.length > 0) {
    lines.push(
      "",
      "## Layers shared between images",
      "",
      ...table(["Image", "Layer", "Size", "Shared with"], shared),
    );
  }
  return `${lines.join("\n")}\n`;
}
