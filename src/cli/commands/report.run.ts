import { UsageError } from "../../errors.js";
import {
  REPORT_FORMATS,
  type ReportFormat,
  renderReport,
  reportBundle,
  writeReport,
} from "../../ops/report.js";
import { cosignPolicy } from "../cosign-policy.js";
import { escapeControls } from "../output.js";
import { trustedKeys } from "../trust-options.js";
import type { ReportFlags } from "./report.js";

function formatOf(flags: ReportFlags): ReportFormat {
  const format = flags.format ?? "html";
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`unknown report format ${escapeControls(format)}`, {
      hint: `use one of: ${REPORT_FORMATS.join(", ")}`,
    });
  }
  return format as ReportFormat;
}

/** `ferry report BUNDLE` (loaded when the command runs: see ./report.ts). */
export async function runReport(bundle: string, flags: ReportFlags): Promise<void> {
  const format = formatOf(flags);
  const trust = await trustedKeys(flags);
  const cosign = await cosignPolicy(flags);
  const report = await reportBundle(bundle, {
    trust,
    ...(cosign ? { cosign } : {}),
    ...(flags.since ? { since: flags.since } : {}),
  });
  const text = renderReport(report, format);
  if (!flags.output || flags.output === "-") {
    process.stdout.write(text);
    return;
  }
  await writeReport(flags.output, text);
  process.stderr.write(
    `wrote ${escapeControls(flags.output)}: ${report.images.length} image(s), bundle ${escapeControls(report.id)}\n`,
  );
}
