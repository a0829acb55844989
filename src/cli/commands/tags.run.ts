import { clientOptionsFromFlags } from "../../ops/registry-options.js";
import { listTags } from "../../ops/registry-tags.js";
import { boundedList } from "../../types/bounded-list.js";
import { toolName } from "../context.js";
import { createOutput } from "../output.js";
import type { TagsFlags } from "./tags.js";

/** `ferry tags REPOSITORY` (loaded when the command runs: see ./tags.ts). */
export async function runTags(repository: string, flags: TagsFlags): Promise<void> {
  const out = createOutput(flags);
  const result = await listTags(
    repository,
    await clientOptionsFromFlags(flags, {
      userAgent: toolName(),
      onNote: (text) => out.note(text),
    }),
  );
  const invalid = result.invalid ?? [];
  if (invalid.length > 0) {
    out.note(
      `skipped ${invalid.length} name(s) ${result.repository} listed that are not valid tags: ${boundedList(invalid.map((tag) => JSON.stringify(tag)))}`,
    );
  }
  out.result(result, () =>
    result.tags.length ? result.tags.join("\n") : `${result.repository} has no tags`,
  );
}
