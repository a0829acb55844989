/**
 * rename, unlink, link and recursive removal that ride out the brief holds Windows puts on
 * files: an antivirus scanner, the search indexer or a backup agent opens a file ferry just
 * wrote, and for a few milliseconds to seconds renaming, deleting or linking it fails with
 * EPERM, EBUSY or EACCES (a folder holding a file being deleted: ENOTEMPTY). The operation is
 * tried again with a growing delay (10 ms doubling to 1 s, about 5 s in all) and only then
 * fails with the last error. This is what graceful-fs does for rename on Windows (for 60 s);
 * graceful-fs itself is not used: it patches the global `fs` module, covers only the callback
 * API, and could not be given a fake clock or fake errors by the tests (docs/dependencies.md).
 *
 * Elsewhere the same errors mean what they say (a permission missing): nothing is retried, the
 * error comes at once. Callers translate the error as before (`fromSystemError`).
 *
 * `createFileOps` takes its primitives, platform and sleep as seams, so the Windows behaviour
 * is tested on Linux with injected errors and no real waiting.
 */

import { link, rename, rm, unlink } from "node:fs/promises";

/** The file-system calls retried here. */
export interface FsPrimitives {
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  link(existing: string, newName: string): Promise<void>;
  /** Remove a file or folder tree; nothing there is fine. */
  removeTree(target: string): Promise<void>;
}

export type FileOpName = keyof FsPrimitives;

/** One retry, for whoever wants to know (tests count them). */
export interface RetryNote {
  op: FileOpName;
  path: string;
  code: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
}

export interface FileOpsOptions {
  primitives?: Partial<FsPrimitives>;
  /** The platform whose rules apply (default: this one). */
  platform?: NodeJS.Platform;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (note: RetryNote) => void;
}

/** rename, unlink, link and removeTree, retried where the platform calls for it. */
export type FileOps = FsPrimitives;

/** Waits between attempts on Windows: 10 ms doubling to 1 s, then 1 s; 5.27 s in all. */
export const WINDOWS_RETRY_DELAYS_MS: readonly number[] = [
  10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000,
];

/** What Windows answers while another program holds the file (or the folder's last file). */
const WINDOWS_TRANSIENT: Record<FileOpName, ReadonlySet<string>> = {
  rename: new Set(["EPERM", "EBUSY", "EACCES"]),
  unlink: new Set(["EPERM", "EBUSY", "EACCES"]),
  link: new Set(["EPERM", "EBUSY", "EACCES"]),
  removeTree: new Set(["EPERM", "EBUSY", "EACCES", "ENOTEMPTY"]),
};

const NODE_PRIMITIVES: FsPrimitives = {
  rename,
  unlink,
  link,
  removeTree: (target) => rm(target, { recursive: true, force: true }),
};

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** File operations with the retry rules of `options.platform` (see the module comment). */
export function createFileOps(options: FileOpsOptions = {}): FileOps {
  const primitives: FsPrimitives = { ...NODE_PRIMITIVES, ...options.primitives };
  const windows = (options.platform ?? process.platform) === "win32";
  const sleep = options.sleep ?? realSleep;

  const retried = async (op: FileOpName, target: string, call: () => Promise<void>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await call();
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const delayMs = WINDOWS_RETRY_DELAYS_MS[attempt];
        if (!windows || !code || !WINDOWS_TRANSIENT[op].has(code) || delayMs === undefined) {
          throw error;
        }
        options.onRetry?.({ op, path: target, code, attempt: attempt + 1, delayMs });
        await sleep(delayMs);
      }
    }
  };

  return {
    rename: (from, to) => retried("rename", from, () => primitives.rename(from, to)),
    unlink: (file) => retried("unlink", file, () => primitives.unlink(file)),
    link: (existing, newName) => retried("link", newName, () => primitives.link(existing, newName)),
    removeTree: (target) => retried("removeTree", target, () => primitives.removeTree(target)),
  };
}

/** The process's file operations (this platform's rules, Node's fs). */
export const fileOps: FileOps = createFileOps();

/**
 * The errors a hard link gives where the file system has none: EPERM (Linux on FAT/exFAT),
 * EISDIR (Windows on FAT32: libuv's name for ERROR_INVALID_FUNCTION), ENOTSUP/EOPNOTSUPP
 * (Windows on exFAT, macOS), ENOSYS. The caller copies or renames instead.
 */
export const NO_HARD_LINKS: ReadonlySet<string> = new Set([
  "EPERM",
  "EISDIR",
  "ENOTSUP",
  "EOPNOTSUPP",
  "ENOSYS",
]);

/** Whether a failed `link` means this file system has no hard links. */
export function meansNoHardLinks(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && NO_HARD_LINKS.has(code);
}
