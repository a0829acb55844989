import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import {
  BadBundleError,
  type BundleProblem,
  FerryError,
  isFerryError,
  NotFoundError,
  UsageError,
} from "../../errors.js";
import type { TrustedKey } from "../../trust/keys.js";
import { verifySignature } from "../../trust/signature.js";
import { parsePartName } from "../../types/parts.js";
import { hasSuffix } from "../../types/text-file.js";
import {
  type CheckOptions,
  checkSplitBundle,
  discoverParts,
  partsFileFor,
  planRepair,
  readSplitBundle,
  type SplitBundle,
  type VolumeCheck,
} from "./parts-file.js";
import { missingPartsSignature } from "./parts-signature.js";
import { FileRandomAccess, type RandomAccess } from "./random-access.js";
import { SplitRandomAccess } from "./split-random-access.js";

export interface OpenedBundle {
  source: RandomAccess;
  /** Present when the bundle is split volumes: what was found and what the checks said. */
  split?: SplitBundle & { checks: VolumeCheck[] };
}

export interface OpenBundleOptions extends CheckOptions {
  /**
   * Return volume problems in `split.checks` instead of throwing (verify reports them). The
   * source is still returned: reads of a missing part fail naming it.
   */
  collect?: boolean;
  /**
   * Keys the `.parts` file must be signed by (checked on the bytes read, before any volume is
   * looked at: an unsigned `.parts` decides nothing). A split bundle without one: ETRUST.
   */
  trust?: TrustedKey[];
  /**
   * A folder holding volumes rebuilt elsewhere (`ferry repair --out DIR` when the parts are on
   * read-only media): a volume found there by name is read from there, the others in place.
   */
  partsFrom?: string | undefined;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

/**
 * What `input` names: a split bundle (`B.zip.parts`, any part `B.zip.001`, or `B.zip` when only
 * its parts exist) or, when undefined, a single bundle file.
 */
export async function findSplitBundle(input: string): Promise<SplitBundle | undefined> {
  // Any case: a FAT stick or a Windows tool may show NIGHTLY.ZIP.PARTS.
  if (hasSuffix(input, ".parts")) return readSplitBundle(input);
  if (parsePartName(path.basename(input))) {
    const partsFile = partsFileFor(input);
    if (await isFile(partsFile)) return readSplitBundle(partsFile);
    return discoverParts(input);
  }
  if (!(await isFile(input)) && (await isFile(`${input}.parts`))) {
    return readSplitBundle(`${input}.parts`);
  }
  return undefined;
}

/**
 * With trusted keys, the `.parts` file must be there and signed by one of them: the signature
 * is checked over the very bytes `readSplitBundle` read (and parsed), never a second read.
 */
async function checkPartsSignature(split: SplitBundle, trust: TrustedKey[]): Promise<void> {
  if (trust.length === 0) return;
  const { partsFile, partsBytes } = split;
  if (!partsFile || !partsBytes) {
    throw new FerryError(
      "ETRUST",
      `${split.bundlePath}: its .parts file is missing, so its parts cannot be checked against a signature`,
      { hint: "copy the .parts file (and .parts.sig) next to the parts" },
    );
  }
  const signature = await readFile(`${partsFile}.sig`).catch(() => undefined);
  if (!signature) throw missingPartsSignature(partsFile);
  verifySignature(partsBytes, signature, trust, path.basename(partsFile));
}

/**
 * Read each volume found by name in `dir` from there (a part rebuilt by `ferry repair --out
 * DIR`), the others where they are. The names come from `.parts` (plain file names, checked).
 */
async function withPartsFrom(split: SplitBundle, dir: string): Promise<SplitBundle> {
  const found = await stat(dir).catch(() => undefined);
  if (!found?.isDirectory()) {
    throw new NotFoundError(`--parts-from ${dir}: no such folder`, {
      hint: "give the folder `ferry repair --out DIR` wrote the rebuilt part to",
    });
  }
  let taken = 0;
  const from = async <T extends { name: string; path: string }>(volume: T): Promise<T> => {
    const candidate = path.join(dir, volume.name);
    if (!(await isFile(candidate))) return volume;
    taken++;
    return { ...volume, path: candidate };
  };
  const parts = [];
  for (const part of split.parts) parts.push(await from(part));
  const parity = split.parity ? await from(split.parity) : undefined;
  if (taken === 0) {
    const names = [...split.parts, ...(split.parity ? [split.parity] : [])].map((v) => v.name);
    throw new NotFoundError(
      `--parts-from ${dir} holds none of the volumes of ${split.bundlePath}`,
      {
        hint: `it should hold the part \`ferry repair --out ${dir}\` rebuilt: one of ${names.join(", ")}`,
      },
    );
  }
  return { ...split, parts, parity };
}

/** A problem per bad volume, naming its file. */
export function volumeProblems(checks: VolumeCheck[]): BundleProblem[] {
  const codes: Record<VolumeCheck["status"], BundleProblem["code"]> = {
    ok: "EINTEGRITY",
    missing: "ENOTFOUND",
    size: "ESIZE",
    damaged: "EINTEGRITY",
    unreadable: "EIO",
  };
  return checks
    .filter((check) => check.status !== "ok")
    .map((check) => ({
      subject: check.name,
      code: codes[check.status],
      message: check.message ?? `${check.name} is ${check.status}`,
    }));
}

/** The command that rebuilds a volume of this split bundle. */
export function repairCommand(split: SplitBundle): string {
  return `ferry repair ${split.partsFile ?? `${split.bundlePath}.parts`}`;
}

/** What to do about bad volumes: repair when parity allows, else copy again. */
export function volumeHint(split: SplitBundle, checks: VolumeCheck[]): string {
  const plan = planRepair(split, checks);
  if (plan.possible) {
    return `${plan.reason}: run \`${repairCommand(split)}\` (add --out DIR when that folder is read-only), or copy it again from the original`;
  }
  const bad = checks.filter((check) => check.status !== "ok").map((check) => check.name);
  return `copy ${bad.join(", ")} again from the original (${plan.reason})`;
}

/** Random access to the parts of a split bundle, in place (parity is not read). */
export function splitSource(split: SplitBundle, checks: VolumeCheck[] = []): SplitRandomAccess {
  const hint = checks.some((check) => check.status !== "ok")
    ? volumeHint(split, checks)
    : `copy the part again from the original${split.parity ? `, or rebuild it with \`${repairCommand(split)}\`` : ""}`;
  return new SplitRandomAccess(
    `${split.bundlePath} (${split.parts.length} part${split.parts.length === 1 ? "" : "s"})`,
    split.parts,
    hint,
  );
}

/**
 * Open a bundle for reading, whether one file or split volumes read in place. For split
 * volumes the `.parts` file is read once (with `trust`, its signature checked on those bytes),
 * then every part is checked — present, of its declared size, and with `hash` its sha256 —
 * and a bad part is named by file (EBADBUNDLE) before anything else is read.
 */
export async function openBundleAccess(
  input: string,
  options: OpenBundleOptions = {},
): Promise<OpenedBundle> {
  const found = await findSplitBundle(input);
  if (!found && options.partsFrom !== undefined) {
    throw new UsageError(`--parts-from ${options.partsFrom}: ${input} is not a split bundle`, {
      hint: "--parts-from is for split bundles: give the .parts file, with the folder `ferry repair --out DIR` wrote to",
    });
  }
  if (!found) return { source: await FileRandomAccess.open(input) };
  const split = options.partsFrom ? await withPartsFrom(found, options.partsFrom) : found;
  await checkPartsSignature(split, options.trust ?? []);
  const checks = await checkSplitBundle(split, options);
  const partProblems = volumeProblems(checks.filter((check) => check.role === "part"));
  if (partProblems.length > 0 && !options.collect) {
    const total = split.parts.length;
    throw new BadBundleError(
      `${split.bundlePath}: ${partProblems.length} of ${total} part(s) missing or damaged; nothing was read:\n${partProblems.map((p) => `  ${p.message}`).join("\n")}`,
      partProblems,
      { hint: volumeHint(split, checks) },
    );
  }
  return { source: splitSource(split, checks), split: { ...split, checks } };
}

/**
 * A bundle read from split volumes failed a structure or integrity check: the cause may be a
 * damaged part (of the right size), which only its sha256 shows. Say how to find it.
 */
export function withSplitHint(error: unknown, split: SplitBundle): unknown {
  if (!isFerryError(error) || !["EBADBUNDLE", "EINTEGRITY", "ESIZE"].includes(error.code)) {
    return error;
  }
  const partsFile = split.partsFile ?? `${split.bundlePath}.parts`;
  const hint = `the bundle is split volumes: \`ferry verify ${partsFile}\` checks every part's sha256 and names a damaged one${split.parity ? `, and \`${repairCommand(split)}\` can rebuild it` : ""}`;
  const options = { hint, details: error.details, cause: error };
  if (error instanceof BadBundleError)
    return new BadBundleError(error.message, error.problems, options);
  return new FerryError(error.code, error.message, options);
}
