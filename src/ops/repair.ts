import { createHash } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { BadBundleError, FerryError, fromSystemError, UsageError } from "../errors.js";
import { xorVolumes } from "../transports/bundle/parity.js";
import {
  checkSplitBundle,
  planRepair,
  type SplitBundle,
  type VolumeCheck,
} from "../transports/bundle/parts-file.js";
import { writeFully } from "../transports/bundle/random-access.js";
import { findSplitBundle, volumeProblems } from "../transports/bundle/split-open.js";
import type { SplitVolume } from "../transports/bundle/split-random-access.js";
import { syncDirectory } from "../util/atomic-file.js";
import { uniqueTempName } from "../util/temp-name.js";

export interface RepairOptions {
  /** Folder for the rebuilt volume (default: the parts' folder). */
  out?: string;
}

export interface RepairReport {
  partsFile: string;
  bundle: string;
  /** Every volume as checked before the repair. */
  volumes: Array<Pick<VolumeCheck, "name" | "role" | "size" | "status" | "message">>;
  /** The volume rebuilt, or null when every volume was intact. */
  rebuilt: { name: string; path: string; size: number; sha256: string; replaced: boolean } | null;
  seconds: number;
}

/**
 * Rebuild the one missing or damaged volume of a split bundle (a part, or the parity volume
 * itself) from the XOR parity and the other volumes, check it against the sha256 `.parts`
 * records, and only then give it its name in `out` (default: beside the parts, replacing the
 * damaged file). The other volumes are only read, so the parts may be on read-only media.
 */
export async function repairBundle(
  input: string,
  options: RepairOptions = {},
): Promise<RepairReport> {
  const started = Date.now();
  const split = await findSplitBundle(input);
  if (!split) {
    throw new UsageError(`${input} is not a split bundle (no .parts file, no .001 part)`, {
      hint: "give the bundle's .parts file, e.g. ferry repair /media/usb/nightly.zip.parts",
    });
  }
  if (!split.partsFile || !split.manifest) {
    throw new BadBundleError(
      `there is no ${path.basename(split.bundlePath)}.parts beside ${split.parts[0]?.path}: without it nothing records the parts' sha256s or the parity volume`,
      [],
      { hint: "copy the .parts file again from the original" },
    );
  }
  const checks = await checkSplitBundle(split, { hash: true });
  const report: RepairReport = {
    partsFile: split.partsFile,
    bundle: split.bundlePath,
    volumes: checks.map(({ name, role, size, status, message }) => ({
      name,
      role,
      size,
      status,
      ...(message ? { message } : {}),
    })),
    rebuilt: null,
    seconds: 0,
  };
  const plan = planRepair(split, checks);
  const bad = checks.filter((check) => check.status !== "ok");
  if (bad.length > 0 && !plan.possible) {
    throw new BadBundleError(
      `cannot repair ${split.manifest.bundle}: ${bad.map((check) => check.message ?? check.name).join("; ")}`,
      volumeProblems(checks),
      { hint: plan.reason },
    );
  }
  if (bad.length === 1) {
    const target = bad[0] as VolumeCheck;
    const volumes = [...split.parts, ...(split.parity ? [split.parity] : [])];
    const expected = volumes.find((volume) => volume.name === target.name) as SplitVolume & {
      sha256: string;
    };
    const others = volumes.filter((volume) => volume.name !== target.name);
    const outDir = options.out ?? path.dirname(split.partsFile);
    const rebuilt = await rebuild(split, expected, others, outDir);
    report.rebuilt = {
      ...rebuilt,
      replaced: path.resolve(outDir) === path.resolve(path.dirname(split.partsFile)),
    };
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** XOR the other volumes (zero-padded) chunk by chunk into a temp file; keep it if it checks. */
async function rebuild(
  split: SplitBundle,
  expected: SplitVolume & { sha256: string },
  others: SplitVolume[],
  outDir: string,
): Promise<{ name: string; path: string; size: number; sha256: string }> {
  const final = path.join(outDir, expected.name);
  const temp = uniqueTempName(final);
  let output: FileHandle;
  try {
    await mkdir(outDir, { recursive: true });
    output = await open(temp, "wx", 0o644);
  } catch (error) {
    const failure = fromSystemError(error, outDir, `writing ${expected.name} into`);
    if (failure.code === "EIO" && /permission denied/.test(failure.message)) {
      throw new FerryError("EIO", failure.message, {
        hint: `write the rebuilt part elsewhere: ferry repair ${split.partsFile} --out DIR (the parts are only read)`,
        cause: error,
      });
    }
    throw failure;
  }
  const hash = createHash("sha256");
  try {
    await xorVolumes(
      others,
      expected.size,
      async (chunk, at) => {
        hash.update(chunk);
        await writeFully(output, chunk, at);
      },
      "copy it again from the original",
    );
    await output.datasync();
    await output.close();
    const sha256 = hash.digest("hex");
    if (sha256 !== expected.sha256) {
      throw new FerryError(
        "EINTEGRITY",
        `the rebuilt ${expected.name} does not match ${path.basename(split.partsFile ?? "")} (sha256 ${sha256}, expected ${expected.sha256}): a volume changed while it was read`,
        { hint: "run the repair again; if it fails again, copy the parts again from the original" },
      );
    }
    await rename(temp, final);
    await syncDirectory(outDir);
    return { name: expected.name, path: final, size: expected.size, sha256 };
  } catch (error) {
    await output.close().catch(() => {});
    await rm(temp, { force: true }).catch(() => {});
    throw fromSystemError(error, final, "writing");
  }
}
