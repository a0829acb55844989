/**
 * Paths inside transport arguments (`oci:DIR[:REF]`, `docker-archive:FILE[:REF|@N]`,
 * `--to store:DIR`), the same on every platform: an argument written on Windows parses the same
 * on Linux, and the reverse.
 *
 * The rule (as containers/image splits `oci:` references, plus forward slashes and device
 * paths): the path ends at the first colon after its root. The only roots that hold a colon are
 * drives: one letter, a colon and a slash or backslash (`C:\`, `c:/`), also behind a device
 * prefix (`\\?\C:\`, `\\.\C:\`, `//?/C:/`). UNC roots (`\\server\share\`, `//server/share/`)
 * hold none, so `oci:\\server\share\app:1.0` is the folder `\\server\share\app`, reference `1.0`.
 * A letter and a colon without a slash is no drive (`oci:C:app` is the folder `C`, reference
 * `app`, as it is on Unix): a drive-relative path would mean another folder in every shell.
 */

/** A device prefix (`\\?\`, `\\.\`, `//?/`, `//./`) before a drive. */
const DEVICE_PREFIX = /^[\\/]{2}[?.][\\/]/;

/** A drive: one letter, a colon, a slash or backslash. */
const DRIVE = /^[A-Za-z]:[\\/]/;

/** How many characters of `text` are a drive root (`C:\`, `\\?\C:\`), or 0 when it has none. */
export function driveRootLength(text: string): number {
  const device = DEVICE_PREFIX.exec(text)?.[0].length ?? 0;
  return DRIVE.test(text.slice(device)) ? device + 3 : 0;
}

/** True when `text` starts with a drive (`C:\`, `d:/`, `\\?\C:\`): a Windows absolute path. */
export function startsWithDrive(text: string): boolean {
  return driveRootLength(text) > 0;
}

/** True when `text` starts with a UNC root (`\\server\share`, `//server/share`). */
export function startsWithUnc(text: string): boolean {
  return /^[\\/]{2}[^\\/?.][^\\/]*[\\/][^\\/]+/.test(text);
}

/**
 * Split `PATH[:REF]` (see the module comment): `C:\layouts\app:1.0` is the path
 * `C:\layouts\app` and the reference `1.0`; an empty reference (`app:`) is none.
 */
export function splitPathAndRef(rest: string): { path: string; ref?: string } {
  const colon = rest.indexOf(":", driveRootLength(rest));
  if (colon < 0) return { path: rest };
  const ref = rest.slice(colon + 1);
  return ref ? { path: rest.slice(0, colon), ref } : { path: rest.slice(0, colon) };
}

/** The path functions a resolution uses (`node:path`, or `path.win32` / `path.posix`). */
export interface PathFunctions {
  resolve(...paths: string[]): string;
}

/**
 * A path from an argument or an image list made absolute against `baseDir`. Drive and UNC
 * paths are absolute whatever the platform's own rules say (a list written on Windows names
 * them), so they are kept as written.
 */
export function resolveAgainst(paths: PathFunctions, baseDir: string, where: string): string {
  if (startsWithDrive(where) || startsWithUnc(where)) return where;
  return paths.resolve(baseDir, where);
}
