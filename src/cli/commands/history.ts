import type { Command } from "commander";
import { collect, storeOption } from "../context.js";

export interface HistoryFlags {
  store?: string;
  platform?: string[];
  trunc?: boolean;
  json?: boolean;
}

export function registerHistory(program: Command): void {
  program
    .command("history")
    .description("show a stored image's layers and how they were made (like docker history)")
    .argument("<ref>", "an image name in the store")
    .addOption(storeOption())
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "for multi-platform images (default: this machine's)",
      collect,
    )
    .option("--no-trunc", "do not shorten digests and commands")
    .option("--json", "print JSON")
    .action(async (ref: string, flags: HistoryFlags) => {
      const { runHistory } = await import("./history.run.js");
      await runHistory(ref, flags);
    });
}
