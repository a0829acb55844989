/**
 * The argument of the transports that read a local file or folder: `PREFIX:PATH[:REF]` (oci:,
 * oci-archive:, docker-archive:), split as ./spec-path.ts says.
 */

import { UsageError } from "../errors.js";
import { escapeControls } from "../types/terminal-text.js";
import { type PathFunctions, resolveAgainst, splitPathAndRef } from "./spec-path.js";

/** `PATH[:REF]` after a local transport's prefix; a missing path is a usage error. */
export function parseLocalSpec<T extends string>(
  transport: T,
  rest: string,
  text: string,
): { transport: T; path: string; ref?: string } {
  const { path, ref } = splitPathAndRef(rest);
  if (!path) throw new UsageError(`${escapeControls(text)}: the ${transport} source needs a path`);
  return ref ? { transport, path, ref } : { transport, path };
}

/** A local spec with its path made absolute against `baseDir`. */
export function resolveLocalSpec<S extends { path: string }>(
  spec: S,
  baseDir: string,
  paths: PathFunctions,
): S {
  return { ...spec, path: resolveAgainst(paths, baseDir, spec.path) };
}
