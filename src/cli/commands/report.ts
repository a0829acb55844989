import type { Command } from "commander";
import { collect } from "../context.js";
import type { CosignFlags } from "../cosign-options.js";
import type { TrustFlags } from "../trust-options.js";

export interface ReportFlags extends TrustFlags, Pick<CosignFlags, "cosignKey"> {
  output?: string;
  format?: string;
  since?: string;
}

export function registerReport(program: Command): void {
  program
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
    )
    .option(
      "--cosign-key <key.pub>",
      "show whether each image's cosign signature is by this public key (ECDSA P-256 or Ed25519 PEM; repeatable); keyless signatures cannot be checked offline",
      collect,
    )
    .action(async (bundle: string, flags: ReportFlags) => {
      const { runReport } = await import("./report.run.js");
      await runReport(bundle, flags);
    });
}
