import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fromSystemError } from "../errors.js";

/** A file name no other writer will pick: `<base>.<pid>.<random>.tmp`. */
export function uniqueTempName(base: string): string {
  return `${base}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
}

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
 * A crash at any instant leaves either the old file or the new one.
 */
export async function writeFileAtomic(
  target: string,
  bytes: Uint8Array,
  options: { tempDirectory?: string; mode?: number } = {},
): Promise<void> {
  const tempDirectory = options.tempDirectory ?? path.dirname(target);
  await mkdir(tempDirectory, { recursive: true });
  const temp = path.join(tempDirectory, uniqueTempName(path.basename(target)));
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw fromSystemError(error, target, "writing");
  }
  await syncDirectory(path.dirname(target));
}
