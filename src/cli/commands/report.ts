import type { Command } from "commander";
import { collect } from "../context.js";
import { addCosignOptions, type CosignFlags } from "../cosign-options.js";
import type { TrustFlags } from "../trust-options.js";

export interface ReportFlags extends TrustFlags, Omit<CosignFlags, "requireSigned"> {
  output?: string;
  format?: string;
  since?: string;
}

export function registerReport(program: Command): void {
  const command = program
    .command("report")
    .description(
      "verify a bundle, then write a transfer report a reviewer can approve (one self-contained HTML page, or Markdown / JSON)",
    )
    .argument("<bundle>", "the bundle zip, or a split bundle's .parts file (or its .001 part)")
    .option("-o, --output <file>", "write the report here, atomically (default or -: stdout)")
    .option("--format <format>", "html, md or json", "html")
    .option(
      "--since <old.zip>",
      "also list the images added, removed and changed since this older bundle (verified too)",
    )
    .option(
      "--trust <key.pub>",
      "check the bundle's signer against this public key (repeatable)",
      collect,
    )
    .option(
      "--trust-dir <dir>",
      "check the signer against the keys in this folder (*.pub); also $FERRY_TRUST_DIR",
    );
  addCosignOptions(command).action(async (bundle: string, flags: ReportFlags) => {
    const { runReport } = await import("./report.run.js");
    await runReport(bundle, flags);
  });
}
