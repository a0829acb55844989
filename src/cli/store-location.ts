import os from "node:os";
import path from "node:path";

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
  if (platform === "win32") {
    return path.win32.join(env.ProgramData ?? "C:\\ProgramData", "ferry", "store");
  }
  if (platform === "darwin")
    return path.join(os.homedir(), "Library", "Application Support", "ferry", "store");
  if (typeof process.getuid === "function" && process.getuid() === 0) return "/var/lib/ferry/store";
  const dataHome = env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share");
  return path.join(dataHome, "ferry", "store");
}
