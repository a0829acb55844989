import type { Command } from "commander";

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
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("-n, --dry-run", "only say what would be removed")
    .option("--json", "print JSON")
    .action(async (flags: GcFlags) => {
      const { runGc } = await import("./gc.run.js");
      await runGc(flags);
    });
}
