import type { Command } from "commander";
import { addTrustOptions } from "../context.js";
import { addCosignOptions, type CosignFlags } from "../cosign-options.js";
import type { TrustFlags } from "../trust-options.js";

export interface VerifyFlags extends TrustFlags, CosignFlags {
  json?: boolean;
  quiet?: boolean;
  partsFrom?: string;
}

export function registerVerify(program: Command): void {
  const command = program
    .command("verify")
    .description("check a bundle's structure and every byte; report every bad entry")
    .argument("<bundle>", "the bundle zip, or a split bundle's .parts file (or its .001 part)");
  addTrustOptions(command);
  addCosignOptions(command)
    .option(
      "--parts-from <dir>",
      "a split bundle: read the volumes found in DIR (a part rebuilt by ferry repair --out DIR) instead of those beside .parts",
    )
    .option("--json", "print a JSON report")
    .option("-q, --quiet", "no progress")
    .action(async (bundle: string, flags: VerifyFlags) => {
      const { runVerify } = await import("./verify.run.js");
      await runVerify(bundle, flags);
    });
}
