import { spawnSync } from "node:child_process";
import { statfsSync } from "node:fs";

/**
 * A small tmpfs for full-disk tests (needs root). Mounting failures throw with the reason, so
 * a test that needs a full disk fails loudly instead of skipping.
 */
export function mountTmpfs(dir: string, size = "4m"): void {
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], {
    encoding: "utf8",
  });
  if (mount.status !== 0) {
    throw new Error(
      `cannot mount a ${size} tmpfs at ${dir} (exit ${mount.status}: ${(mount.stderr || mount.error?.message || "").trim()}); the full-disk tests need root to run \`mount -t tmpfs\``,
    );
  }
}

export function unmountTmpfs(dir: string): void {
  const umount = spawnSync("umount", [dir]);
  if (umount.status !== 0) spawnSync("umount", ["-l", dir]);
}

/** Bytes an unprivileged writer may still use on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}
