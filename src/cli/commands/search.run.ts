import { stat } from "node:fs/promises";
import { clientOptionsFromFlags } from "../../ops/registry-options.js";
import { searchCatalog } from "../../ops/registry-search.js";
import { toolName } from "../context.js";
import { createOutput, escapeControls } from "../output.js";
import type { SearchFlags } from "./search.js";
import { runWimSearch } from "./search-wim.js";

/** `ferry search DIR|REGISTRY[/PREFIX]` (loaded when the command runs: see ./search.ts). */
export async function runSearch(target: string, flags: SearchFlags): Promise<void> {
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
      ...result.repositories.map((name) => escapeControls(`${result.registry}/${name}`)),
      ...(result.truncated
        ? [`(stopped after ${result.repositories.length}; use --limit for more)`]
        : []),
      ...(result.repositories.length === 0
        ? [
            `${result.registry} lists no repositories${result.prefix ? ` under ${escapeControls(result.prefix)}` : ""}`,
          ]
        : []),
    ].join("\n"),
  );
}
