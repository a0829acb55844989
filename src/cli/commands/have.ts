import type { Command } from "commander";

export interface HaveFlags {
  store?: string;
  output: string;
  json?: boolean;
}

export function registerHave(program: Command): void {
  program
    .command("have")
    .description("write what the store holds (for `ferry save --since` on the connected side)")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .requiredOption("-o, --output <have.json>", "where to write the list")
    .option("--json", "print a JSON summary")
    .action(async (flags: HaveFlags) => {
      const { runHave } = await import("./have.run.js");
      await runHave(flags);
    });
}
