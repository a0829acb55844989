import path from "node:path";
import { type BundleProblem, FerryError, isFerryError } from "../errors.js";
import { planRepair, type VolumeCheck } from "../transports/bundle/parts-file.js";
import type { BundleReader } from "../transports/bundle/reader.js";
import {
  type OpenBundleOptions,
  type OpenedBundle,
  openBundleAccess,
  repairCommand,
  volumeProblems,
} from "../transports/bundle/split-open.js";
import { SplitRandomAccess } from "../transports/bundle/split-random-access.js";

export type { OpenBundleOptions, OpenedBundle };

/**
 * The one entry point for reading a bundle: `B.zip` (one file), or split volumes given as
 * `B.zip.parts`, any part `B.zip.001`, or `B.zip` when only its parts exist. For split volumes
 * every part is checked first (present and of its size; with `hash`, its sha256 against
 * `.parts`) and a bad part is named by file before anything else is read; the parts are then
 * read in place, read-only: never joined, modified or deleted. Without `collect`, bad parts
 * throw EBADBUNDLE with what to do (repair, when parity allows, or copy again).
 */
export function openBundleRandomAccess(
  input: string,
  options: OpenBundleOptions = {},
): Promise<OpenedBundle> {
  return openBundleAccess(input, options);
}

/** What a report says about split volumes (verify, inspect, repair). */
export interface SplitReport {
  /** The `.parts` file, or null when the parts were found by name alone. */
  partsFile: string | null;
  /** The joined bundle's name (it need not exist). */
  bundle: string;
  id: string | null;
  size: number;
  partSize: number | null;
  /** Every part, then the parity volume, with what the check found. */
  volumes: Array<Omit<VolumeCheck, "path"> & { path: string }>;
  parity: boolean;
  /** Whether all parts are intact (the parity volume does not count). */
  partsOk: boolean;
  /** Problems with parts, each naming its file. */
  problems: BundleProblem[];
  /** Things to know that do not make the bundle bad (a damaged parity volume, no `.parts`). */
  notes: string[];
  /** Null when every volume is intact. */
  repair: { possible: boolean; command: string | null; reason: string } | null;
}

export function describeSplit(split: NonNullable<OpenedBundle["split"]>): SplitReport {
  const checks = split.checks;
  const partChecks = checks.filter((check) => check.role === "part");
  const bad = checks.filter((check) => check.status !== "ok");
  const plan = planRepair(split, checks);
  const notes: string[] = [];
  if (!split.partsFile) {
    notes.push(
      `no ${path.basename(split.bundlePath)}.parts next to the parts: their sizes and sha256s cannot be checked (the bundle's own checks still apply)`,
    );
  }
  const parity = checks.find((check) => check.role === "parity");
  if (parity && parity.status !== "ok" && partChecks.every((check) => check.status === "ok")) {
    notes.push(
      `${parity.message ?? `${parity.name} is bad`}; the parts are intact, but no part can be rebuilt until it is: run \`${repairCommand(split)}\``,
    );
  }
  return {
    partsFile: split.partsFile ?? null,
    bundle: split.bundlePath,
    id: split.manifest?.id ?? null,
    size: split.parts.reduce((sum, part) => sum + part.size, 0),
    partSize: split.manifest?.partSize ?? null,
    volumes: checks,
    parity: Boolean(split.parity),
    partsOk: partChecks.every((check) => check.status === "ok"),
    problems: volumeProblems(partChecks),
    notes,
    repair:
      bad.length === 0
        ? null
        : {
            possible: plan.possible,
            command: plan.possible ? repairCommand(split) : null,
            reason: plan.reason,
          },
  };
}

/**
 * A blob that failed its check while being read from split volumes: add which part file(s)
 * hold its bytes and what to run, so the damaged part is named even without a verify first.
 */
export function explainSplitFailure(reader: BundleReader, error: unknown): unknown {
  const source = reader.source;
  if (!(source instanceof SplitRandomAccess) || !isFerryError(error)) return error;
  if (error.code !== "EINTEGRITY" && error.code !== "ESIZE") return error;
  const digest = error.details.digest;
  const entry =
    typeof digest === "string" ? reader.entry(`blobs/sha256/${digest.slice(7)}`) : undefined;
  if (!entry) return error;
  const parts = source.volumesOf(entry.dataStart, entry.dataStart + entry.compressedSize);
  const names = parts.map((part) => part.name).join(", ");
  return new FerryError(error.code, `${error.message} (its bytes are in ${names})`, {
    hint: `${names} may be damaged: \`ferry verify\` on the .parts file checks every part's sha256 and says whether \`ferry repair\` can rebuild it`,
    details: { ...error.details, parts: parts.map((part) => part.name) },
    cause: error,
  });
}
