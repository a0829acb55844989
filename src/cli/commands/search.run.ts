import { stat } from "node:fs/promises";
import path from "node:path";
import { NotFoundError, UsageError } from "../../errors.js";
import { clientOptionsFromFlags } from "../../ops/registry-options.js";
import { searchCatalog } from "../../ops/registry-search.js";
import { looksLikePath } from "../../transports/path-argument.js";
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
  if (looksLikePath(target)) {
    // `./dir`, `../share`, `/mnt/iso`: a folder that is not there, not a registry named ".".
    const found = await stat(target).catch(() => undefined);
    const shown = escapeControls(target);
    if (!found) {
      throw new NotFoundError(`folder ${shown} does not exist (a path, not a registry)`, {
        hint: "check the path: ferry search DIR lists the .wim files in a folder",
        details: { path: target },
      });
    }
    throw new UsageError(`${shown} is a file, not a folder`, {
      hint: `ferry search lists the .wim files in a folder: ferry search ${escapeControls(path.dirname(target))}`,
      details: { path: target },
    });
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
