import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { NotFoundError } from "../errors.js";
import { Store } from "../transports/layout/store.js";
import { escapeControls } from "../types/terminal-text.js";
import { macAppSupportDir, programDataDir, runsAsRoot, xdgBaseDir } from "../util/user-dirs.js";

/**
 * Where the store lives: `--store`, else `FERRY_STORE`, else a per-OS default:
 * Windows `%ProgramData%\ferry\store`; Linux as root `/var/lib/ferry/store`, otherwise
 * `$XDG_DATA_HOME/ferry/store` (`~/.local/share/ferry/store`); macOS
 * `~/Library/Application Support/ferry/store`.
 */
export function resolveStoreDir(
  flag: string | undefined,
  env = process.env,
  platform = process.platform,
): string {
  if (flag) return path.resolve(flag);
  if (env.FERRY_STORE) return path.resolve(env.FERRY_STORE);
  if (platform === "win32") return programDataDir(env, "store");
  if (platform === "darwin") return macAppSupportDir("store");
  if (runsAsRoot()) return "/var/lib/ferry/store";
  return path.join(xdgBaseDir(env, "XDG_DATA_HOME", ".local", "share"), "ferry", "store");
}

/** How the store folder was chosen: a user naming a folder means that folder must be a store. */
export function storeChosenBy(flag: string | undefined, env = process.env): string | undefined {
  if (flag) return "--store";
  if (env.FERRY_STORE) return "FERRY_STORE";
  return undefined;
}

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
