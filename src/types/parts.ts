import { BadBundleError, UsageError } from "../errors.js";
import { isSha256Hex } from "./digest.js";
import { decodeTextFile } from "./text-file.js";

/**
 * Split volumes: a bundle `B.zip` cut into raw byte ranges `B.zip.001`, `B.zip.002`, ... (every
 * part `partSize` bytes but the last), described by `B.zip.parts`, with an optional XOR parity
 * volume `B.zip.parity`. Pure: names, sizes, the position -> (part, offset) mapping, and the
 * validation of the `.parts` JSON. No I/O.
 */

export const PARTS_SCHEMA = "ferry.parts/v1";

/** The largest file FAT32 can hold: 4 GiB - 1 byte. */
export const FAT32_MAX_FILE = 4 * 1024 * 1024 * 1024 - 1;

/** `--split` below this is refused (thousands of tiny files help nobody). */
export const MIN_PART_SIZE = 4096;

/** At most this many parts (`.001` to `.999`). */
export const MAX_PARTS = 999;

export const PARITY_SCHEME = "xor";

export interface PartRecord {
  /** File name (no directory), `<bundle>.001` ... */
  name: string;
  size: number;
  /** sha256 of the part file, 64 lower-case hex (what `sha256sum` prints). */
  sha256: string;
}

export interface ParityRecord {
  /** `xor`: byte i of the parity is the XOR of byte i of every part, short parts padded with zeros. */
  scheme: typeof PARITY_SCHEME;
  name: string;
  size: number;
  sha256: string;
}

/** The `.parts` file. */
export interface PartsManifest {
  schema: typeof PARTS_SCHEMA;
  /** The joined bundle's file name, e.g. `nightly.zip`; part names derive from it. */
  bundle: string;
  /** ferry.json's id. */
  id: string;
  /** Bytes of the joined bundle. */
  size: number;
  partSize: number;
  parts: PartRecord[];
  parity: ParityRecord | null;
}

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * `--split` values: `fat32` (4294967295 bytes), or a number with an optional binary unit:
 * `700M`, `4G`, `1.5G`, `650MiB`, `2048K`, `1000000` (bytes). K, M, G, T are powers of 1024
 * (`MB` is read the same as `M`). Fractions round down to whole bytes.
 */
export function parseSplitSize(text: string): number {
  const value = text.trim();
  if (/^fat-?32$/i.test(value)) return FAT32_MAX_FILE;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value);
  const hint =
    "give a size like 700M, 4G or 1.5G (binary units: 1M = 1048576 bytes), or fat32 for the largest FAT32 file (4 GiB - 1 byte)";
  if (!match) throw new UsageError(`--split ${JSON.stringify(text)} is not a size`, { hint });
  const [, number, unit] = match as unknown as [string, string, string];
  const bytes = Math.floor(Number(number) * (UNITS[unit.toUpperCase()] ?? 1));
  if (!Number.isSafeInteger(bytes) || bytes < MIN_PART_SIZE) {
    throw new UsageError(
      `--split ${text} is too small: parts must be at least ${MIN_PART_SIZE} bytes`,
      {
        hint,
      },
    );
  }
  return bytes;
}

/** `B.zip.001` for index 0. */
export function partName(bundle: string, index: number): string {
  return `${bundle}.${String(index + 1).padStart(3, "0")}`;
}

export function parityName(bundle: string): string {
  return `${bundle}.parity`;
}

export function partsFileName(bundle: string): string {
  return `${bundle}.parts`;
}

/** How many parts a bundle of `size` bytes needs. */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** Size of part `index` of a bundle of `size` bytes. */
export function partSizeAt(size: number, partSize: number, index: number): number {
  return Math.max(0, Math.min(partSize, size - index * partSize));
}

/** Where byte `position` of the bundle lives: part index and offset in that part. */
export function locatePart(position: number, partSize: number): { index: number; offset: number } {
  const index = Math.floor(position / partSize);
  return { index, offset: position - index * partSize };
}

/**
 * Cut the byte range [position, position + length) at part boundaries: one piece per part
 * touched, in order, with the offset in the range where the piece starts.
 */
export function splitRange(
  position: number,
  length: number,
  partSize: number,
): Array<{ index: number; offset: number; length: number; from: number }> {
  const pieces: Array<{ index: number; offset: number; length: number; from: number }> = [];
  let done = 0;
  while (done < length) {
    const { index, offset } = locatePart(position + done, partSize);
    const take = Math.min(length - done, partSize - offset);
    pieces.push({ index, offset, length: take, from: done });
    done += take;
  }
  return pieces;
}

/** If `name` is a part name (`X.001`), the bundle name and the part index. */
export function parsePartName(name: string): { bundle: string; index: number } | undefined {
  const match = /^(.+)\.(\d{3})$/.exec(name);
  if (!match) return undefined;
  const index = Number(match[2]) - 1;
  return index < 0 ? undefined : { bundle: match[1] as string, index };
}

/** A plain file name, safe to join to the `.parts` file's folder. */
function isPlainFileName(name: unknown): name is string {
  return (
    typeof name === "string" &&
    name.length > 0 &&
    name.length <= 240 &&
    name !== "." &&
    name !== ".." &&
    !/[/\\\0:]/.test(name)
  );
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}

/**
 * Check a parsed `.parts` document against the rules (names derived from the bundle name, no
 * directories; sizes that add up; one sha256 per volume). Throws EBADBUNDLE naming `label`
 * and every problem.
 */
export function validatePartsManifest(value: unknown, label: string): PartsManifest {
  const problems: string[] = [];
  const doc = value as Partial<PartsManifest> | null;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    problems.push("is not a JSON object");
  } else {
    if (doc.schema !== PARTS_SCHEMA) {
      problems.push(`has schema ${JSON.stringify(doc.schema)}, expected ${PARTS_SCHEMA}`);
    }
    if (!isPlainFileName(doc.bundle)) problems.push("has no valid bundle file name");
    if (typeof doc.id !== "string" || doc.id.length === 0 || doc.id.length > 200) {
      problems.push("has no bundle id");
    }
    if (!isCount(doc.size, 1)) problems.push("has no valid total size");
    if (!isCount(doc.partSize, 1)) problems.push("has no valid part size");
    if (!Array.isArray(doc.parts) || doc.parts.length === 0) problems.push("lists no parts");
    if (problems.length === 0) checkVolumes(doc as PartsManifest, problems);
  }
  if (problems.length > 0) {
    throw new BadBundleError(
      `${label} is not a valid parts file: ${problems.slice(0, 10).join("; ")}`,
      problems.map((message) => ({ subject: label, code: "EBADBUNDLE", message })),
      {
        hint: `copy ${label} again from the original (it is written last by \`ferry save --split\`)`,
      },
    );
  }
  return doc as PartsManifest;
}

function checkVolumes(doc: PartsManifest, problems: string[]): void {
  const count = partCount(doc.size, doc.partSize);
  if (count > MAX_PARTS) problems.push(`needs ${count} parts, more than ${MAX_PARTS}`);
  if (doc.parts.length !== count) {
    problems.push(
      `lists ${doc.parts.length} part(s), but ${doc.size} bytes in parts of ${doc.partSize} make ${count}`,
    );
  }
  doc.parts.forEach((part, index) => {
    const name = partName(doc.bundle, index);
    if (typeof part !== "object" || part === null) {
      problems.push(`part ${index + 1} is not an object`);
      return;
    }
    if (part.name !== name) {
      problems.push(`part ${index + 1} is named ${JSON.stringify(part.name)}, expected ${name}`);
    }
    const size = partSizeAt(doc.size, doc.partSize, index);
    if (part.size !== size) problems.push(`${name} has size ${part.size}, expected ${size}`);
    if (!isSha256Hex(part.sha256)) problems.push(`${name} has no valid sha256`);
  });
  const parity = doc.parity;
  if (parity === undefined) problems.push("has no parity field (null when there is none)");
  else if (parity !== null) {
    const name = parityName(doc.bundle);
    if (typeof parity !== "object") problems.push("has a parity field that is not an object");
    else {
      if (parity.scheme !== PARITY_SCHEME) {
        problems.push(`uses parity scheme ${JSON.stringify(parity.scheme)}, not ${PARITY_SCHEME}`);
      }
      if (parity.name !== name)
        problems.push(`names its parity ${JSON.stringify(parity.name)}, expected ${name}`);
      const size = partSizeAt(doc.size, doc.partSize, 0);
      if (parity.size !== size) problems.push(`${name} has size ${parity.size}, expected ${size}`);
      if (!isSha256Hex(parity.sha256)) problems.push(`${name} has no valid sha256`);
    }
  }
}

/** Parse and validate the bytes of a `.parts` file. */
export function parsePartsManifest(bytes: Uint8Array, label: string): PartsManifest {
  let value: unknown;
  try {
    // Tolerant of a BOM, UTF-16 and CRLF (a `.parts` edited on Windows): only the parsing. A
    // signature over `.parts` is checked over the exact bytes read (split-open.ts).
    value = JSON.parse(decodeTextFile(bytes));
  } catch (error) {
    throw new BadBundleError(`${label} is not valid JSON: ${(error as Error).message}`, [], {
      hint: `copy ${label} again from the original`,
    });
  }
  return validatePartsManifest(value, label);
}

/** The canonical bytes of a `.parts` file. */
export function serializePartsManifest(manifest: PartsManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}
