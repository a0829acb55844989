import type { Command } from "commander";
import { storeOption } from "../context.js";

export interface HaveFlags {
  store?: string;
  output: string;
  json?: boolean;
}

export function registerHave(program: Command): void {
  program
    .command("have")
    .description("write what the store holds (for `ferry save --since` on the connected side)")
    .addOption(storeOption())
    .requiredOption("-o, --output <have.json>", "where to write the list")
    .option("--json", "print a JSON summary")
    .action(async (flags: HaveFlags) => {
      const { runHave } = await import("./have.run.js");
      await runHave(flags);
    });
}
