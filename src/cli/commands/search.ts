import type { Command } from "commander";
import type { RegistryFlags } from "../../ops/registry-options.js";
import { addRegistryOptions } from "./pull.js";

export interface SearchFlags extends RegistryFlags {
  json?: boolean;
  recursive?: boolean;
  limit?: number;
}

/**
 * `ferry search DIR` lists the .wim files of a folder or file share (the old catalog listing);
 * `ferry search REGISTRY[/PREFIX]` lists a registry's repositories from its catalog.
 */
export function registerSearch(program: Command): void {
  const command = program
    .command("search")
    .description("list .wim base images in a folder or share, or the repositories of a registry")
    .argument(
      "<dir|registry[/prefix]>",
      "a folder (e.g. a mounted UNC share) or a registry host with an optional prefix",
    )
    .option("-r, --recursive", "folders: look in sub-folders too")
    .option("--limit <n>", "registries: stop after this many repositories", (v) =>
      Number.parseInt(v, 10),
    )
    .option("--json", "print JSON");
  addRegistryOptions(command, { downloads: false }).action(
    async (target: string, flags: SearchFlags) => {
      const { runSearch } = await import("./search.run.js");
      await runSearch(target, flags);
    },
  );
}
