import { readdir, stat } from "node:fs/promises";
import { NotFoundError } from "../errors.js";
import { Store } from "../transports/layout/store.js";
import { escapeControls } from "../types/terminal-text.js";

/**
 * For commands that only read the store (`ferry images`): a folder named by `--store` or
 * FERRY_STORE that is missing, or is not a ferry store (no `oci-layout` file), is a mistake worth
 * saying (a typo would otherwise list an empty store). The default store not existing yet, or
 * an empty folder, is normal: nothing was loaded. Returns whether the store exists.
 */
export async function checkStoreToRead(
  dir: string,
  chosenBy: string | undefined,
): Promise<boolean> {
  if (await Store.exists(dir)) return true;
  if (chosenBy === undefined) return false;
  const found = await stat(dir).catch(() => undefined);
  const shown = escapeControls(dir);
  const hint = `check the path given to ${chosenBy}; a store is the folder \`ferry load\` installs into (it holds an oci-layout file and index.json)`;
  if (found === undefined) {
    throw new NotFoundError(`store ${shown} (from ${chosenBy}) does not exist`, {
      hint,
      details: { store: dir },
    });
  }
  // An empty folder made for the store is a store with nothing loaded yet.
  if (found.isDirectory() && (await readdir(dir)).length === 0) return false;
  throw new NotFoundError(
    `${shown} (from ${chosenBy}) is not a ferry store: it is ${found.isDirectory() ? "a folder without an oci-layout file" : "not a folder"}`,
    { hint, details: { store: dir } },
  );
}
