import type { Command } from "commander";
import type { RegistryFlags } from "../../ops/registry-options.js";
import { addRegistryOptions } from "./pull.js";

export interface TagsFlags extends RegistryFlags {
  json?: boolean;
}

export function registerTags(program: Command): void {
  const command = program
    .command("tags")
    .description("list the tags of a repository in a registry")
    .argument(
      "<repository>",
      "e.g. alpine, mcr.microsoft.com/windows/nanoserver, host:5000/team/app",
    )
    .option("--json", "print JSON");
  addRegistryOptions(command, { downloads: false }).action(
    async (repository: string, flags: TagsFlags) => {
      const { runTags } = await import("./tags.run.js");
      await runTags(repository, flags);
    },
  );
}
