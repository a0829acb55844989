import path from "node:path";
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
