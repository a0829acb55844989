import type { Command } from "commander";
import { storeOption } from "../context.js";

export interface TagFlags {
  store?: string;
  json?: boolean;
}

export function registerTag(program: Command): void {
  program
    .command("tag")
    .description("give an image in the store another name (like docker tag)")
    .argument(
      "<source>",
      "an image in the store: alpine:3.19, nanoserver:10.0.14300.1010, sha256:...",
    )
    .argument("<target>", "the new name; for an OS image, name:tag stays among OS images")
    .addOption(storeOption())
    .option("--json", "print JSON")
    .action(async (source: string, target: string, flags: TagFlags) => {
      const { runTag } = await import("./tag.run.js");
      await runTag(source, target, flags);
    });
}
