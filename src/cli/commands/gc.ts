import type { Command } from "commander";
import { storeOption } from "../context.js";

export interface GcFlags {
  store?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerGc(program: Command): void {
  program
    .command("gc")
    .description(
      "remove blobs no image names and temp files of killed runs; say how many bytes were freed",
    )
    .addOption(storeOption())
    .option("-n, --dry-run", "only say what would be removed")
    .option("--json", "print JSON")
    .action(async (flags: GcFlags) => {
      const { runGc } = await import("./gc.run.js");
      await runGc(flags);
    });
}
