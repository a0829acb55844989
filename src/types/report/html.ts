/**
 * The transfer report as one self-contained HTML page: inline CSS, no scripts, no external
 * assets, printable. Every text from the bundle passes through escapeHtml. Pure, no I/O.
 */

import { escapeHtml as e } from "./escape.js";
import { attachedSummary, type ReportImage, reportSize, type TransferReport } from "./model.js";

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #999; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: .4em 0; }
th, td { border: 1px solid #bbb; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #eee; }
code { font: 12px/1.3 ui-monospace, monospace; overflow-wrap: anywhere; }
code.digest { white-space: nowrap; }
.ok { color: #065f10; font-weight: bold; }
.bad { color: #a00000; font-weight: bold; }
.image { page-break-inside: avoid; break-inside: avoid; }
.approval td { height: 2.2em; min-width: 14em; }
@media print {
  body { margin: 0; font-size: 11px; }
  h2 { page-break-after: avoid; break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
`;

const code = (text: string) => `<code>${e(text)}</code>`;

function row(cells: string[], header = false): string {
  const tag = header ? "th" : "td";
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join("")}</tr>`;
}

function table(headers: string[], rows: string[][]): string {
  return `<table>\n${row(headers, true)}\n${rows.map((r) => row(r)).join("\n")}\n</table>`;
}

function signerCell(report: TransferReport): string {
  if (!report.signer) return "unsigned";
  return report.signer.verified
    ? `${code(report.signer.keyId)} <span class="ok">verified against a --trust key</span>`
    : `${code(report.signer.keyId)} <span class="bad">not checked (no --trust key given)</span>`;
}

function signatureCell(image: ReportImage): string {
  const text = e(attachedSummary(image));
  if (!image.cosign) return text;
  return `<span class="${image.cosign.signed ? "ok" : "bad"}">${text}</span>`;
}

function imageSection(image: ReportImage): string {
  const facts: string[][] = [
    ["Digest", `<code class="digest">${e(image.digest)}</code>`],
    ["Kind", e(image.artifactType ? `artifact (${image.artifactType})` : image.kind)],
    ["Platforms", image.platforms.length ? image.platforms.map(code).join(", ") : "-"],
    ...(image.osVersions.length ? [["OS version", image.osVersions.map(code).join(", ")]] : []),
    ["Size", e(reportSize(image.size))],
    ["Source", code(image.source)],
    ["Attached", signatureCell(image)],
    ...(image.delta ? [["Against the base", e(image.delta)]] : []),
  ];
  const parts = [
    `<section class="image">`,
    `<h3>${e(image.ref)}</h3>`,
    `<table>\n${facts.map(([k, v]) => row([`<b>${e(k ?? "")}</b>`, v ?? ""])).join("\n")}\n</table>`,
  ];
  if (image.attached.length > 0) {
    parts.push(
      table(
        ["Attached artifact", "Type", "Found by", "Digest"],
        image.attached.map((a) => [
          e(a.kind),
          a.artifactType ? code(a.artifactType) : "-",
          e(a.foundBy),
          code(a.digest),
        ]),
      ),
    );
  }
  if (image.sharedLayers.length > 0) {
    parts.push(
      table(
        ["Layer shared with other images", "Size", "Shared with"],
        image.sharedLayers.map((l) => [
          code(l.digest),
          e(reportSize(l.size)),
          l.with.map((r) => e(r)).join("<br>"),
        ]),
      ),
    );
  }
  parts.push("</section>");
  return parts.join("\n");
}

/** The report as a complete HTML document. */
export function renderHtml(report: TransferReport): string {
  const summary: string[][] = [
    ["Bundle", code(report.bundle)],
    ["Bundle id", code(report.id)],
    ["Created", `${e(report.created)} by ${e(report.tool)}`],
    ...(report.sequence !== null ? [["Sequence", e(String(report.sequence))]] : []),
    ["Signer", signerCell(report)],
    ["Integrity", `<span class="ok">every byte verified against its digest</span>`],
    [
      "Size",
      e(
        `${report.images.length} image(s), ${report.sizes.carriedBlobs} blobs, ${reportSize(report.sizes.carriedBytes)} carried`,
      ),
    ],
    ...(report.base
      ? [
          [
            "Delta",
            e(
              `needs ${report.sizes.requiredBlobs} blob(s) (${reportSize(report.sizes.requiredBytes)}) from its base: ${report.base.kind} ${report.base.id ?? ""} ${report.base.description ?? ""}`.trim(),
            ),
          ],
        ]
      : []),
    ...(report.cosignKeys.length ? [["Cosign keys", report.cosignKeys.map(code).join(", ")]] : []),
  ];
  const overview = table(
    ["Image", "Digest", "Platforms", "Size", "Attached", ...(report.base ? ["Delta"] : [])],
    report.images.map((i) => [
      e(i.ref),
      code(i.digest),
      e(i.platforms.join(", ") || "-"),
      e(reportSize(i.size)),
      signatureCell(i),
      ...(report.base ? [e(i.delta ?? "")] : []),
    ]),
  );
  const deltaNote = report.base
    ? `<p>Delta: ${
        report.since && report.images.some((i) => i.delta === "unchanged")
          ? "judged by name and digest against the base bundle given with --since."
          : "judged from the layers alone: <b>same-layers</b> means every layer comes from the base (the image is unchanged, or only its configuration changed; give the base bundle with --since to tell). "
      }</p>`
    : "";
  const body = [
    `<h1>Transfer report</h1>`,
    `<p>Bundle ${code(report.id)}: what crosses the gap, for approval.</p>`,
    `<table>\n${summary.map(([k, v]) => row([`<b>${e(k ?? "")}</b>`, v ?? ""])).join("\n")}\n</table>`,
  ];
  if (report.since) {
    body.push(
      `<h2>Changes since ${e(report.since.bundle)}</h2>`,
      `<p>Older bundle ${code(report.since.id)}, created ${e(report.since.created)}.</p>`,
      table(
        ["Image", "Change", "Old digest", "New digest"],
        report.since.changes.map((c) => [
          e(c.ref),
          e(c.change),
          c.oldDigest ? code(c.oldDigest) : "-",
          c.newDigest ? code(c.newDigest) : "-",
        ]),
      ),
    );
  }
  body.push(
    `<h2>Images</h2>`,
    overview,
    deltaNote,
    `<h2>Details</h2>`,
    ...report.images.map(imageSection),
    `<h2>Approval</h2>`,
    `<table class="approval">\n${row(["Reviewed by", ""])}\n${row(["Date", ""])}\n${row(["Decision", ""])}\n</table>`,
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Transfer report: ${e(report.id)}</title>
<style>${STYLE}</style>
</head>
<body>
${body.join("\n")}
</body>
</html>
`;
}
