import type { Command } from "commander";

export interface LogFlags {
  store?: string;
  json?: boolean;
}

export function registerLog(program: Command): void {
  program
    .command("log")
    .description("what was loaded into the store: which bundle, when, which images")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("--json", "print JSON")
    .action(async (flags: LogFlags) => {
      const { runLog } = await import("./log.run.js");
      await runLog(flags);
    });
}
