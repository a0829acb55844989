/**
 * A real FAT32 or exFAT file system in an image file, mounted through a loop device (needs
 * root), for stores and bundles on USB-stick file systems: no hard links, no Unix modes, no
 * symbolic links. The kernel's own driver (`mount -t vfat|exfat -o loop`) is tried first; where
 * the kernel has none (containers often lack the vfat module), the FUSE drivers `fusefat` and
 * `exfat-fuse` mount the same image. The images are made with `mkfs.vfat -F 32` (dosfstools)
 * and `mkfs.exfat` (exfatprogs); scripts/setup.sh installs all four. A missing tool or a mount
 * that fails throws with the reason: the tests that need a FAT file system fail loudly rather
 * than skip.
 */
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";

export type FatKind = "fat32" | "exfat";

export interface FatMount {
  kind: FatKind;
  /** The mounted folder. */
  dir: string;
  /** How it was mounted: `kernel` or `fuse`. */
  driver: "kernel" | "fuse";
  unmount(): void;
}

function run(command: string, args: string[]): { ok: boolean; out: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  const out = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error?.message ?? ""}`.trim();
  return { ok: result.status === 0, out };
}

function required(command: string, args: string[], what: string): string {
  const result = run(command, args);
  if (!result.ok) {
    throw new Error(
      `${what} failed (${command} ${args.join(" ")}): ${result.out}; the FAT tests need root and the tools scripts/setup.sh installs (dosfstools, exfatprogs, fusefat, exfat-fuse)`,
    );
  }
  return result.out;
}

/** Make a `sizeMiB` image of `kind` under `workDir` and mount it at `workDir/<kind>`. */
export function mountFat(workDir: string, kind: FatKind, sizeMiB = 128): FatMount {
  const image = path.join(workDir, `${kind}.img`);
  const dir = path.join(workDir, kind);
  mkdirSync(dir, { recursive: true });
  const fd = openSync(image, "w");
  ftruncateSync(fd, sizeMiB * 1024 * 1024);
  closeSync(fd);
  if (kind === "fat32") required("mkfs.vfat", ["-F", "32", image], "making a FAT32 image");
  else required("mkfs.exfat", [image], "making an exFAT image");

  const kernel = run("mount", [
    "-t",
    kind === "fat32" ? "vfat" : "exfat",
    "-o",
    "loop",
    image,
    dir,
  ]);
  const unmount = (loop?: string) => () => {
    if (!run("umount", [dir]).ok) run("umount", ["-l", dir]);
    if (loop) run("losetup", ["-d", loop]);
  };
  if (kernel.ok) return { kind, dir, driver: "kernel", unmount: unmount() };
  const loop = required("losetup", ["-f", "--show", image], "attaching a loop device");
  const fuse =
    kind === "fat32"
      ? run("fusefat", ["-o", "rw+", loop, dir])
      : run("mount.exfat-fuse", [loop, dir]);
  if (!fuse.ok) {
    run("losetup", ["-d", loop]);
    throw new Error(
      `cannot mount the ${kind} image: the kernel said ${kernel.out}; FUSE said ${fuse.out}; the FAT tests need root and the tools scripts/setup.sh installs`,
    );
  }
  return { kind, dir, driver: "fuse", unmount: unmount(loop) };
}
