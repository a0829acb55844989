import { randomBytes } from "node:crypto";

/**
 * The one format of ferry's temp names, files and staging folders alike:
 * `<base>.<pid>.<12 hex>.tmp`. The pid lets cleanup (store check, cache prune, orphan
 * adoption) tell a dead writer's leftovers from a live one's; the random part keeps two
 * writers in one process apart.
 */
export function uniqueTempName(base: string): string {
  return `${base}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
}

/** `<base>.<pid>.<hex>.tmp`, and `<base>.<pid>-<hex>.tmp` (older ferry's private downloads). */
const TEMP_FILE = /\.(\d+)[.-][0-9a-f]+\.tmp$/;
/** `<kind>-<pid>-<uuid>`: older ferry's staging folders. */
const OLD_STAGING_FOLDER = /^[a-z]+-(\d+)-[0-9a-f-]+$/;

/**
 * The pid that wrote a temp name (a file or folder name, or a path ending in one), in the
 * current format or one an older ferry used; undefined when `name` is not a ferry temp name.
 */
export function tempNameOwner(name: string): number | undefined {
  const base = name.slice(Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\")) + 1);
  const pid = TEMP_FILE.exec(base)?.[1] ?? OLD_STAGING_FOLDER.exec(base)?.[1];
  return pid === undefined ? undefined : Number(pid);
}
