import type { Command } from "commander";
import { clientOptionsFromFlags, type RegistryFlags } from "../../ops/registry-options.js";
import { listTags } from "../../ops/registry-tags.js";
import { toolName } from "../context.js";
import { createOutput } from "../output.js";
import { addRegistryOptions } from "./pull.js";

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
    async (repository: string, flags: RegistryFlags & { json?: boolean }) => {
      const out = createOutput(flags);
      const result = await listTags(
        repository,
        await clientOptionsFromFlags(flags, { userAgent: toolName() }),
      );
      out.result(result, () =>
        result.tags.length ? result.tags.join("\n") : `${result.repository} has no tags`,
      );
    },
  );
}
