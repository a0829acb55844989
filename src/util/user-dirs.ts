import os from "node:os";
import path from "node:path";

/** An XDG base folder: `$VARIABLE` when set and not empty, else `~/<fallback…>`. */
export function xdgBaseDir(
  env: NodeJS.ProcessEnv,
  variable: "XDG_CACHE_HOME" | "XDG_CONFIG_HOME" | "XDG_DATA_HOME" | "XDG_STATE_HOME",
  ...fallback: string[]
): string {
  return env[variable] || path.join(os.homedir(), ...fallback);
}

/** A Windows per-user folder: `%APPDATA%` (else `~\AppData\Roaming`) or `%LOCALAPPDATA%` (`Local`). */
export function windowsAppDataDir(
  env: NodeJS.ProcessEnv,
  variable: "APPDATA" | "LOCALAPPDATA",
): string {
  return (
    env[variable] ??
    path.join(os.homedir(), "AppData", variable === "APPDATA" ? "Roaming" : "Local")
  );
}

/** `%ProgramData%\ferry\<name>`: a machine-wide ferry folder on Windows. */
export function programDataDir(env: NodeJS.ProcessEnv, name: string): string {
  return path.win32.join(env.ProgramData ?? "C:\\ProgramData", "ferry", name);
}

/** `~/Library/Application Support/ferry/<name>`: a ferry folder on macOS. */
export function macAppSupportDir(name: string): string {
  return path.join(os.homedir(), "Library", "Application Support", "ferry", name);
}

/** True when this process runs as root (never on Windows). */
export function runsAsRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}
