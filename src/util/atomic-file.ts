import { mkdir, open, rm } from "node:fs/promises";
import path from "node:path";
import { fromSystemError } from "../errors.js";
import { type FileOps, fileOps } from "./fs-retry.js";
import { createOwnFile, setOwnMode } from "./safe-open.js";
import { uniqueTempName } from "./temp-name.js";

/** fsync a directory so a rename inside it survives a power cut (no-op where unsupported). */
export async function syncDirectory(directory: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch {
    // Windows cannot open directories for sync; the rename is still atomic there.
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Replace `target` with `bytes` atomically: write a temp file in `tempDirectory` (same
 * filesystem), fsync it, rename it over the target, fsync the target's directory.
 * A crash at any instant leaves either the old file or the new one. With `mode`, the file gets
 * exactly that mode whatever the umask (the temp file is private, 0600, until just before the
 * rename); without, 0644 less the umask. A link at the target is replaced, never written
 * through.
 */
export async function writeFileAtomic(
  target: string,
  bytes: Uint8Array,
  options: { tempDirectory?: string; mode?: number; fileOps?: FileOps } = {},
): Promise<void> {
  const tempDirectory = options.tempDirectory ?? path.dirname(target);
  await mkdir(tempDirectory, { recursive: true });
  const temp = path.join(tempDirectory, uniqueTempName(path.basename(target)));
  try {
    // An explicit mode is exact (the temp private until then); the default 0644 obeys the umask.
    const exact = options.mode !== undefined;
    const handle = await createOwnFile(temp, exact ? 0o600 : 0o644, {
      existing: "fail",
      rules: { code: "EIO" },
      umask: !exact,
    });
    try {
      await handle.writeFile(bytes);
      if (options.mode !== undefined) await setOwnMode(handle, options.mode);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    // Retried on Windows while a scanner holds the file (see util/fs-retry.ts).
    await (options.fileOps ?? fileOps).rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw fromSystemError(error, target, "writing");
  }
  await syncDirectory(path.dirname(target));
}
