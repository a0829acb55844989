import type { Command } from "commander";
import { storeOption } from "../context.js";

export interface CheckFlags {
  store?: string;
  repair?: boolean;
  json?: boolean;
}

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description(
      "re-hash every blob in the store, check every image is complete, find orphans and temp files",
    )
    .addOption(storeOption())
    .option("--repair", "remove orphan blobs and dead runs' temp files; quarantine damaged blobs")
    .option("--json", "print a JSON report")
    .action(async (flags: CheckFlags) => {
      const { runCheck } = await import("./check.run.js");
      await runCheck(flags);
    });
}
