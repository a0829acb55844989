/**
 * A source argument that is a path on disk, not a registry reference: `./dir`, `../app.tar`,
 * `/srv/layout`, or a word that is no valid reference but names something that exists. Without
 * a transport prefix ferry cannot know what the file holds, so it says which prefix to put in
 * front (naming the one that fits, where a look at the path tells). Drive paths (`C:\...`) have
 * their own message in the table.
 */

import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import nodePath from "node:path";
import { type FerryError, NotFoundError, UsageError } from "../errors.js";
import { escapeControls } from "../types/terminal-text.js";

/** Starts like a relative or absolute path: `.`, `..`, `./`, `../`, `/`, `\` (and `.\`, `..\`). */
export function looksLikePath(text: string): boolean {
  return /^\.{1,2}([\\/]|$)/.test(text) || text.startsWith("/") || text.startsWith("\\");
}

const PREFIXES =
  "oci:PATH (an OCI layout folder), oci-archive:PATH (an OCI layout tar), docker-archive:PATH (a `docker save` tar)";

/** The first bytes of a file (empty when unreadable). */
function head(file: string, count: number): Buffer {
  try {
    const fd = openSync(file, "r");
    try {
      const buffer = Buffer.alloc(count);
      return buffer.subarray(0, readSync(fd, buffer, 0, count, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return Buffer.alloc(0);
  }
}

/** The prefix a look at the path suggests, with why; undefined when a look does not tell. */
function suggestion(text: string): { use: string; because: string } | undefined {
  const stats = statSync(text, { throwIfNoEntry: false });
  if (!stats) return undefined;
  if (stats.isDirectory()) {
    return existsSync(nodePath.join(text, "oci-layout"))
      ? { use: `oci:${text}`, because: "a folder holding an OCI layout" }
      : undefined;
  }
  const bytes = head(text, 512);
  if (bytes.subarray(0, 2).toString("latin1") === "PK") {
    return {
      use: `ferry load ${text}`,
      because: "a zip file (a ferry bundle is loaded, not saved)",
    };
  }
  if (bytes.length >= 263 && bytes.subarray(257, 262).toString("latin1") === "ustar") {
    return { use: `oci-archive:${text} or docker-archive:${text}`, because: "a tar file" };
  }
  return undefined;
}

/** The error for a source argument that is a path, or undefined when it is none. */
export function pathArgumentError(text: string, isReference: boolean): FerryError | undefined {
  const path = looksLikePath(text);
  if (!path && (isReference || !existsSync(text))) return undefined;
  const shown = escapeControls(text);
  if (!existsSync(text)) {
    return new NotFoundError(
      `${shown}: no such file or folder (a path, not a registry reference)`,
      {
        hint: `check the path; then name what it holds: ${PREFIXES}`,
        details: { path: text },
      },
    );
  }
  const found = suggestion(text);
  return new UsageError(
    `${shown} is a path${found ? ` to ${found.because}` : ""}, not a registry reference: name its transport`,
    {
      hint: found
        ? `use ${escapeControls(found.use)}`
        : `put the prefix of what it holds in front: ${PREFIXES}; a folder of .wim files: ferry search ${shown}`,
      details: { path: text },
    },
  );
}
