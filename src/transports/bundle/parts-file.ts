import { createHash } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fromSystemError } from "../../errors.js";
import {
  type PartsManifest,
  parityName,
  parsePartName,
  parsePartsManifest,
  partName,
  partsFileName,
} from "../../types/parts.js";
import type { SplitVolume } from "./split-random-access.js";

/** A split bundle found on disk: its `.parts` file (when there is one) and its volumes. */
export interface SplitBundle {
  /** The joined bundle's name, e.g. `/media/usb/nightly.zip` (it need not exist). */
  bundlePath: string;
  /** The `.parts` file; undefined when the parts were found by name alone. */
  partsFile: string | undefined;
  /** Its exact bytes (what a signature over `.parts` covers). */
  partsBytes: Buffer | undefined;
  manifest: PartsManifest | undefined;
  parts: Array<SplitVolume & { sha256?: string }>;
  parity: (SplitVolume & { sha256: string }) | undefined;
}

/** Read and validate a `.parts` file; its volumes are looked for in the same folder. */
export async function readSplitBundle(partsFile: string): Promise<SplitBundle> {
  let bytes: Buffer;
  try {
    bytes = await readFile(partsFile);
  } catch (error) {
    throw fromSystemError(error, partsFile, "reading");
  }
  const manifest = parsePartsManifest(bytes, path.basename(partsFile));
  const dir = path.dirname(partsFile);
  return {
    bundlePath: path.join(dir, manifest.bundle),
    partsFile,
    partsBytes: bytes,
    manifest,
    parts: manifest.parts.map((part) => ({ ...part, path: path.join(dir, part.name) })),
    parity: manifest.parity
      ? { ...manifest.parity, path: path.join(dir, manifest.parity.name) }
      : undefined,
  };
}

/**
 * Parts without a `.parts` file (lost, or split by another tool): `B.001`, `B.002`, ... as long
 * as they exist, sizes from the files. Nothing is known of their hashes.
 */
export async function discoverParts(anyPart: string): Promise<SplitBundle | undefined> {
  const parsed = parsePartName(path.basename(anyPart));
  if (!parsed) return undefined;
  const dir = path.dirname(anyPart);
  const parts: SplitVolume[] = [];
  for (let index = 0; ; index++) {
    const name = partName(parsed.bundle, index);
    const found = await stat(path.join(dir, name)).catch(() => undefined);
    if (!found?.isFile()) break;
    parts.push({ name, path: path.join(dir, name), size: found.size });
  }
  if (parts.length === 0) return undefined;
  return {
    bundlePath: path.join(dir, parsed.bundle),
    partsFile: undefined,
    partsBytes: undefined,
    manifest: undefined,
    parts,
    parity: undefined,
  };
}

/** The `.parts` file that describes a bundle path or one of its parts. */
export function partsFileFor(input: string): string {
  const base = path.basename(input);
  const parsed = parsePartName(base);
  return path.join(path.dirname(input), partsFileName(parsed ? parsed.bundle : base));
}

export type VolumeStatus = "ok" | "missing" | "size" | "damaged" | "unreadable";

/** What a check found about one volume. */
export interface VolumeCheck {
  name: string;
  path: string;
  role: "part" | "parity";
  /** 1-based part number (absent for the parity volume). */
  part?: number;
  size: number;
  status: VolumeStatus;
  foundSize?: number;
  foundSha256?: string;
  message?: string;
}

export interface CheckOptions {
  /** Also hash every volume against `.parts` (a full read). */
  hash?: boolean;
  /** Bytes hashed so far, for progress. */
  onBytes?: (count: number) => void;
}

/** sha256 of a file, read with 1 MiB positional reads (fs streams are several times slower). */
async function sha256File(file: string, onBytes?: (count: number) => void): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      onBytes?.(bytesRead);
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

/** Check one volume: present, the declared size, and (when asked) the recorded sha256. */
export async function checkVolume(
  volume: SplitVolume & { sha256?: string },
  role: VolumeCheck["role"],
  options: CheckOptions & { part?: number; total?: number; partsLabel?: string } = {},
): Promise<VolumeCheck> {
  const what = role === "parity" ? "the parity volume" : `part ${options.part} of ${options.total}`;
  const check: VolumeCheck = {
    name: volume.name,
    path: volume.path,
    role,
    ...(options.part !== undefined ? { part: options.part } : {}),
    size: volume.size,
    status: "ok",
  };
  const found = await stat(volume.path).catch((error: NodeJS.ErrnoException) => error);
  if (found instanceof Error) {
    check.status = found.code === "ENOENT" ? "missing" : "unreadable";
    check.message =
      found.code === "ENOENT"
        ? `${volume.name} (${what}) is missing: no file ${path.resolve(volume.path)}`
        : `${volume.name} (${what}) cannot be read: ${found.message}`;
    return check;
  }
  check.foundSize = found.size;
  if (!found.isFile() || found.size !== volume.size) {
    check.status = "size";
    check.message = `${volume.name} (${what}) is ${found.size} bytes, ${options.partsLabel ?? ".parts"} says ${volume.size}: it is truncated or not this bundle's`;
    return check;
  }
  if (options.hash && volume.sha256) {
    try {
      check.foundSha256 = await sha256File(volume.path, options.onBytes);
    } catch (error) {
      check.status = "unreadable";
      check.message = `${volume.name} (${what}) cannot be read: ${(error as Error).message}`;
      return check;
    }
    if (check.foundSha256 !== volume.sha256) {
      check.status = "damaged";
      check.message = `${volume.name} (${what}) is damaged: its sha256 is ${check.foundSha256}, ${options.partsLabel ?? ".parts"} says ${volume.sha256}`;
    }
  }
  return check;
}

/** Check every part, then the parity volume, in order. */
export async function checkSplitBundle(
  split: SplitBundle,
  options: CheckOptions = {},
): Promise<VolumeCheck[]> {
  const partsLabel = split.partsFile ? path.basename(split.partsFile) : undefined;
  const checks: VolumeCheck[] = [];
  for (const [index, part] of split.parts.entries()) {
    checks.push(
      await checkVolume(part, "part", {
        ...options,
        part: index + 1,
        total: split.parts.length,
        ...(partsLabel ? { partsLabel } : {}),
      }),
    );
  }
  if (split.parity) {
    checks.push(
      await checkVolume(split.parity, "parity", {
        ...options,
        ...(partsLabel ? { partsLabel } : {}),
      }),
    );
  }
  return checks;
}

/** Whether XOR parity can fix what a check found, and how. */
export interface RepairPlan {
  possible: boolean;
  /** The one volume to rebuild, when possible. */
  volume?: string;
  /** Why not, or what it will do. */
  reason: string;
}

export function planRepair(split: SplitBundle, checks: VolumeCheck[]): RepairPlan {
  const bad = checks.filter((check) => check.status !== "ok");
  if (bad.length === 0)
    return { possible: false, reason: "every volume is intact: nothing to repair" };
  const names = bad.map((check) => check.name).join(", ");
  if (!split.manifest) {
    return {
      possible: false,
      reason: `there is no ${partsFileName(path.basename(split.bundlePath))} file, so there is no parity to rebuild from`,
    };
  }
  if (!split.parity) {
    return {
      possible: false,
      reason: `${split.manifest.bundle} was saved without --parity, so there is nothing to rebuild ${names} from: copy ${bad.length === 1 ? "it" : "them"} again from the original`,
    };
  }
  if (bad.length > 1) {
    return {
      possible: false,
      reason: `${bad.length} volumes are bad (${names}); XOR parity rebuilds only one: copy the others again from the original, then repair`,
    };
  }
  const [only] = bad as [VolumeCheck];
  return {
    possible: true,
    volume: only.name,
    reason:
      only.role === "parity"
        ? `the parity volume ${only.name} can be rebuilt from the parts (the parts themselves are intact)`
        : `${only.name} can be rebuilt from ${parityName(split.manifest.bundle)} and the other parts`,
  };
}
