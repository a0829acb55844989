import type { Command } from "commander";
import { storeOption } from "../context.js";

export interface LogFlags {
  store?: string;
  json?: boolean;
}

export function registerLog(program: Command): void {
  program
    .command("log")
    .description("what was loaded into the store: which bundle, when, which images")
    .addOption(storeOption())
    .option("--json", "print JSON")
    .action(async (flags: LogFlags) => {
      const { runLog } = await import("./log.run.js");
      await runLog(flags);
    });
}
