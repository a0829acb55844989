import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { clientOptionsFromFlags, type RegistryFlags } from "../../ops/registry-options.js";
import { searchCatalog } from "../../ops/registry-search.js";
import { toolName } from "../context.js";
import { createOutput } from "../output.js";
import { addRegistryOptions } from "./pull.js";
import { runWimSearch } from "./search-wim.js";

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
    async (
      target: string,
      flags: RegistryFlags & { json?: boolean; recursive?: boolean; limit?: number },
    ) => {
      if ((await stat(target).catch(() => undefined))?.isDirectory()) {
        await runWimSearch(target, {
          json: Boolean(flags.json),
          recursive: Boolean(flags.recursive),
        });
        return;
      }
      const out = createOutput(flags);
      const result = await searchCatalog(
        target,
        await clientOptionsFromFlags(flags, { userAgent: toolName() }),
        flags.limit ? { limit: flags.limit } : {},
      );
      out.result(result, () =>
        [
          ...result.repositories.map((name) => `${result.registry}/${name}`),
          ...(result.truncated
            ? [`(stopped after ${result.repositories.length}; use --limit for more)`]
            : []),
          ...(result.repositories.length === 0
            ? [
                `${result.registry} lists no repositories${result.prefix ? ` under ${result.prefix}` : ""}`,
              ]
            : []),
        ].join("\n"),
      );
    },
  );
}
