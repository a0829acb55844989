/**
 * The argument of the transports that read a local file or folder: `PREFIX:PATH[:REF]` (oci:,
 * oci-archive:, docker-archive:), split as ./spec-path.ts says.
 */

import { UsageError } from "../errors.js";
import { escapeControls } from "../types/terminal-text.js";
import type { Source } from "../types/transport.js";
import type { SourceRole } from "./entry.js";
import { resolveAgainst, splitPathAndRef } from "./spec-path.js";

/** What a local transport's argument names: a file or folder, and maybe an image in it. */
export interface LocalSpec<T extends string> {
  transport: T;
  path: string;
  ref?: string;
}

/**
 * The source role of a local transport, `NAME:PATH[:REF]`: `form` as help writes it (`oci:DIR[:REF]`),
 * `open` to open the parsed spec (its `import()`s there), the `--platform` choice as default.
 */
export function localSourceRole<T extends string>(
  transport: T,
  form: string,
  open: (spec: LocalSpec<T>) => Promise<Source>,
): SourceRole<LocalSpec<T>> {
  return {
    forms: [form],
    prefixes: [`${transport}:`],
    parse: (rest, text) => parseLocalSpec(transport, rest, text),
    resolve: (spec, baseDir, paths) => ({
      ...spec,
      path: resolveAgainst(paths, baseDir, spec.path),
    }),
    platforms: "chosen",
    open,
  };
}

/** `PATH[:REF]` after a local transport's prefix; a missing path is a usage error. */
function parseLocalSpec<T extends string>(transport: T, rest: string, text: string): LocalSpec<T> {
  const { path, ref } = splitPathAndRef(rest);
  if (!path) throw new UsageError(`${escapeControls(text)}: the ${transport} source needs a path`);
  return ref ? { transport, path, ref } : { transport, path };
}
