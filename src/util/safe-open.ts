/**
 * Opening a file that must be a regular file, and one that must be ferry's own.
 *
 * - Without following a symbolic link in the last path component (`O_NOFOLLOW`) for ferry's
 *   own files (the store's blobs, index.json, log, lock; the download cache): a link planted
 *   there is refused, never read through or written through. Inputs the user names (a .wim
 *   file) may be links: `followLinks`.
 * - With `O_NONBLOCK`, so that opening a FIFO (named pipe) returns at once instead of waiting
 *   for a writer; the open file is then checked with fstat and anything but a regular file
 *   (FIFO, socket, device, directory) is refused. O_NONBLOCK changes nothing for regular
 *   files (reads and writes of a regular file never block on it), so it is left set.
 * - Files ferry creates get their mode set with fchmod after the create, so the umask does
 *   not decide who may read or write them.
 *
 * Where the platform has no O_NOFOLLOW (Windows), the path is checked with lstat before the
 * open and the opened file must be the same (device, inode) as the one checked.
 * Only the last component is protected: a directory on the way that is swapped for a link
 * between checks is not (Node has no openat); the store checks its directories when opened.
 */

import { constants, type Stats } from "node:fs";
import { chmod, type FileHandle, lstat, mkdir, open } from "node:fs/promises";
import { type ErrorCode, FerryError, type FerryErrorOptions, fromSystemError } from "../errors.js";
import { ifExists } from "./if-exists.js";

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const NONBLOCK = constants.O_NONBLOCK ?? 0;

/** How to judge and name a file that is not what it must be. */
export interface FileRules {
  /** The error code for a path that is not a regular file (EBADSTORE, EBADWIM, EBADIMAGE...). */
  code: ErrorCode;
  /** Follow a symbolic link in the last component (a path the user named). Default: never. */
  followLinks?: boolean;
  /** What the file is, for the message (`blob sha256:...`); the path is always named. */
  what?: string;
  /** What to do about it. */
  hint?: string;
}

/** In words, what a path is, for messages: "a symbolic link", "a FIFO (named pipe)". */
export function describeKind(info: Stats): string {
  if (info.isFile()) return "a regular file";
  if (info.isSymbolicLink()) return "a symbolic link";
  if (info.isFIFO()) return "a FIFO (named pipe)";
  if (info.isDirectory()) return "a directory";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice() || info.isBlockDevice()) return "a device";
  return "not a regular file";
}

/** A path that had to be a regular file (or a directory) and is something else. */
export class NotRegularFileError extends FerryError {
  constructor(
    readonly path: string,
    /** What the path is, from `describeKind`. */
    readonly kind: string,
    rules: FileRules,
    wanted = "a regular file",
    options: FerryErrorOptions = {},
  ) {
    const subject = rules.what ? `${rules.what} (${path})` : path;
    super(rules.code, `${subject} is ${kind}, not ${wanted}`, {
      ...options,
      ...(rules.hint ? { hint: rules.hint } : {}),
      details: { ...options.details, path, kind },
    });
  }
}

/** The errors an open gives for a link refused by O_NOFOLLOW, or a FIFO/socket without peer. */
const REFUSED_OPEN = new Set([
  "ELOOP",
  "EMLINK",
  "EFTYPE",
  "ENXIO",
  "EISDIR",
  "ENOTDIR",
  "EOPNOTSUPP",
]);

async function explainRefusal(
  error: unknown,
  file: string,
  rules: FileRules,
  action: string,
  wanted: "a regular file" | "a directory" = "a regular file",
): Promise<FerryError> {
  const code = (error as NodeJS.ErrnoException).code;
  if (code && REFUSED_OPEN.has(code)) {
    const info = await lstat(file).catch(() => undefined);
    const right = wanted === "a directory" ? info?.isDirectory() : info?.isFile();
    if (info && !right) {
      return new NotRegularFileError(file, describeKind(info), rules, wanted, { cause: error });
    }
  }
  return fromSystemError(error, file, action);
}

/** Where O_NOFOLLOW is missing: refuse a link seen by lstat (the open is then compared). */
async function preCheck(file: string, rules: FileRules): Promise<Stats | undefined> {
  if (NOFOLLOW !== 0 || rules.followLinks) return undefined;
  const info = await lstat(file).catch(() => undefined);
  if (info?.isSymbolicLink()) throw new NotRegularFileError(file, describeKind(info), rules);
  return info;
}

async function checkOpened(
  handle: FileHandle,
  file: string,
  rules: FileRules,
  before: Stats | undefined,
): Promise<Stats> {
  let info: Stats;
  try {
    info = await handle.stat();
  } catch (error) {
    await handle.close().catch(() => {});
    throw fromSystemError(error, file, "reading");
  }
  if (!info.isFile()) {
    await handle.close().catch(() => {});
    throw new NotRegularFileError(file, describeKind(info), rules);
  }
  if (before && (before.ino !== info.ino || before.dev !== info.dev)) {
    await handle.close().catch(() => {});
    throw new FerryError("EIO", `${file} changed while ferry opened it`, {
      hint: "nothing else should write there while ferry runs; run the same command again",
    });
  }
  return info;
}

/**
 * Open a regular file for reading. Refused (`rules.code`, naming the path and what it is): a
 * symbolic link (unless `followLinks`), a FIFO, a socket, a device, a directory. A missing
 * file is ENOTFOUND.
 */
export async function openRegularFile(
  file: string,
  rules: FileRules,
): Promise<{ handle: FileHandle; info: Stats }> {
  const before = await preCheck(file, rules);
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | NONBLOCK | (rules.followLinks ? 0 : NOFOLLOW));
  } catch (error) {
    throw await explainRefusal(error, file, rules, "reading");
  }
  return { handle, info: await checkOpened(handle, file, rules, before) };
}

/** The whole of a regular file (see `openRegularFile`). */
export async function readRegularFile(file: string, rules: FileRules): Promise<Buffer> {
  const { handle } = await openRegularFile(file, rules);
  return useThenClose(handle, file, "reading", () => handle.readFile());
}

/** `use` the open `handle`, then close it; a failure as the FerryError naming `file`. */
async function useThenClose<T>(
  handle: FileHandle,
  file: string,
  action: string,
  use: () => Promise<T>,
): Promise<T> {
  try {
    return await use();
  } catch (error) {
    throw fromSystemError(error, file, action);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** chmod errors that mean the file system keeps no Unix modes (FAT through FUSE, exFAT). */
const NO_MODES = new Set(["ENOSYS", "ENOTSUP", "EOPNOTSUPP"]);

function keepsNoModes(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && NO_MODES.has(code);
}

/**
 * Give a file or folder ferry created (open as `handle`) exactly `mode`. A file system without
 * Unix modes (FAT32 or exFAT: a USB stick) refuses: ENOSYS or ENOTSUP, or EPERM from Linux's
 * vfat for a file this very process owns. The file then keeps what that file system gives every
 * file, which is accepted: such a file system cannot keep anyone out anyway. EPERM for a file
 * of another owner is an error as before.
 */
export async function setOwnMode(handle: FileHandle, mode: number): Promise<void> {
  try {
    await handle.chmod(mode);
  } catch (error) {
    if (keepsNoModes(error)) return;
    const code = (error as NodeJS.ErrnoException).code;
    const me = process.geteuid?.();
    if (code === "EPERM" && me !== undefined) {
      const owner = await handle.stat().then(
        (info) => info.uid,
        () => undefined,
      );
      if (owner === me) return;
    }
    throw error;
  }
}

/** How `createOwnFile` treats a file already at the path. */
export type ExistingFile =
  /** Fail with the system's EEXIST error. */
  | "fail"
  /** Empty it. */
  | "truncate"
  /** Keep its bytes; writes go to its end. */
  | "append";

export interface CreateOptions {
  existing: ExistingFile;
  rules: FileRules;
  /** Open for reading too. */
  readable?: boolean;
  /**
   * Let the umask apply to `mode` (files written for the user, like a download cache), instead
   * of setting exactly `mode` with fchmod.
   */
  umask?: boolean;
}

/**
 * Create (or open, see `existing`) a file of ferry's own for writing, with exactly `mode`
 * whatever the umask (unless `umask`). Never follows or writes through a link, never blocks
 * on a FIFO; anything but a regular file at the path is refused.
 */
export async function createOwnFile(
  file: string,
  mode: number,
  options: CreateOptions,
): Promise<FileHandle> {
  const before = await preCheck(file, options.rules);
  const how = {
    fail: constants.O_EXCL,
    truncate: constants.O_TRUNC,
    append: constants.O_APPEND,
  }[options.existing];
  const flags =
    (options.readable ? constants.O_RDWR : constants.O_WRONLY) |
    constants.O_CREAT |
    NOFOLLOW |
    NONBLOCK |
    how;
  let handle: FileHandle;
  try {
    handle = await open(file, flags, mode);
  } catch (error) {
    if (options.existing === "fail" && (error as NodeJS.ErrnoException).code === "EEXIST") {
      throw error;
    }
    throw await explainRefusal(error, file, options.rules, "writing");
  }
  await checkOpened(handle, file, options.rules, options.existing === "fail" ? undefined : before);
  if (options.umask) return handle;
  try {
    await setOwnMode(handle, mode);
  } catch (error) {
    await handle.close().catch(() => {});
    throw fromSystemError(error, file, "writing");
  }
  return handle;
}

/**
 * Append `text` to a file of ferry's own (created with exactly `mode` if missing), without
 * following a link or blocking on a FIFO planted in its place.
 */
export async function appendToOwnFile(
  file: string,
  text: string,
  mode: number,
  rules: FileRules,
): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await createOwnFile(file, mode, { existing: "fail", rules });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const before = await preCheck(file, rules);
    try {
      handle = await open(file, constants.O_WRONLY | constants.O_APPEND | NOFOLLOW | NONBLOCK);
    } catch (openError) {
      throw await explainRefusal(openError, file, rules, "writing");
    }
    await checkOpened(handle, file, rules, before);
  }
  await useThenClose(handle, file, "writing", () => handle.appendFile(text));
}

/**
 * Make sure `dir` is a directory, not a link to one: create it with exactly `mode` when
 * missing (its parent must exist), refuse anything else at that path.
 */
export async function ensureOwnDirectory(
  dir: string,
  mode: number,
  rules: FileRules,
): Promise<void> {
  try {
    await mkdir(dir, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw fromSystemError(error, dir, "creating");
    }
    await requireDirectory(dir, rules);
    return;
  }
  await setOwnDirectoryMode(dir, mode, rules);
}

/** chmod a directory just created, through a handle so a link swapped in is not followed. */
export async function setOwnDirectoryMode(
  dir: string,
  mode: number,
  rules: FileRules,
): Promise<void> {
  if (constants.O_DIRECTORY === undefined || NOFOLLOW === 0) {
    await chmod(dir, mode).catch((error: unknown) => {
      if (keepsNoModes(error)) return;
      throw fromSystemError(error, dir, "creating");
    });
    return;
  }
  let handle: FileHandle;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | NOFOLLOW);
  } catch (error) {
    throw await explainRefusal(error, dir, rules, "creating", "a directory");
  }
  await useThenClose(handle, dir, "creating", () => setOwnMode(handle, mode));
}

/** Refuse `dir` unless it is a directory (a link to one is refused too); absent is fine. */
export async function requireDirectory(dir: string, rules: FileRules): Promise<boolean> {
  const info = await ifExists(lstat(dir), dir);
  if (info === undefined) return false;
  if (!info.isDirectory()) {
    throw new NotRegularFileError(dir, describeKind(info), rules, "a directory");
  }
  return true;
}
