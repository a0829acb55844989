/**
 * Pure parsing of tar header blocks: ustar, GNU and the pieces of PAX that matter for
 * reading image archives. No I/O here; tar-index.ts drives the scan.
 */

import { FerryError } from "../../errors.js";

/** Every tar header and padding unit is one 512-byte block. */
export const BLOCK_SIZE = 512;

/** Type flags with a meaning of their own for the scan. */
export const TYPE_FLAG = {
  paxExtended: "x",
  paxGlobal: "g",
  gnuLongName: "L",
  gnuLongLink: "K",
} as const;

/** The fields of one header block, decoded but not yet merged with PAX/GNU-long overrides. */
export interface RawTarHeader {
  name: string;
  mode: number;
  size: number;
  mtime: number;
  /** One character; "\0" for old-style regular files. */
  typeFlag: string;
  linkName: string;
}

/** Where a header came from, for error messages. */
export interface HeaderLocation {
  archivePath: string;
  offset: number;
}

const FIELD = {
  name: [0, 100],
  mode: [100, 108],
  size: [124, 136],
  mtime: [136, 148],
  checksum: [148, 156],
  typeFlag: [156, 157],
  linkName: [157, 257],
  magic: [257, 263],
  prefix: [345, 500],
  starPrefix: [345, 476],
  starTrailer: [508, 512],
} as const;

type Field = (typeof FIELD)[keyof typeof FIELD];

/** POSIX ustar magic; GNU writes "ustar " and keeps other fields where ustar has its prefix. */
const USTAR_MAGIC = "ustar\u0000";
const STAR_TRAILER = "tar\u0000";

/** True when every byte of the block is zero (an end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) {
    if (block[i] !== 0) return false;
  }
  return true;
}

/** Round a data size up to the next whole block. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
}

/**
 * Decode one 512-byte header block. Verifies the checksum; throws FerryError "EBADIMAGE"
 * naming the archive and the offset when the block is not a valid header.
 */
export function parseHeaderBlock(block: Buffer, where: HeaderLocation): RawTarHeader {
  if (block.length !== BLOCK_SIZE) {
    throw badHeader(where, `header block is ${block.length} bytes, expected ${BLOCK_SIZE}`);
  }
  verifyChecksum(block, where);
  const magic = block.toString("latin1", FIELD.magic[0], FIELD.magic[1]);
  return {
    name: joinPrefix(readPrefix(block, magic), readString(block, FIELD.name)),
    mode: readNumber(block, FIELD.mode, "mode", where) & 0o7777,
    size: readSize(block, where),
    mtime: readNumber(block, FIELD.mtime, "mtime", where),
    typeFlag: String.fromCharCode(block[FIELD.typeFlag[0]] ?? 0),
    linkName: readString(block, FIELD.linkName),
  };
}

function verifyChecksum(block: Buffer, where: HeaderLocation): void {
  const recorded = parseOctal(block.subarray(FIELD.checksum[0], FIELD.checksum[1]));
  const { unsigned, signed } = computeChecksums(block);
  if (recorded !== unsigned && recorded !== signed) {
    throw badHeader(
      where,
      `header checksum mismatch (recorded ${recorded ?? "garbage"}, computed ${unsigned})`,
      hintForFirstBlock(block, where.offset),
    );
  }
}

/** Sum of the header bytes with the checksum field counted as spaces; historic tars sum signed bytes. */
function computeChecksums(block: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  const [checksumStart, checksumEnd] = FIELD.checksum;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const byte = i >= checksumStart && i < checksumEnd ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return { unsigned, signed };
}

function hintForFirstBlock(block: Buffer, offset: number): string | undefined {
  return offset === 0 ? notATarHint(block) : undefined;
}

/** A hint for a file whose first block is not a tar header: compressed, or something else. */
export function notATarHint(block: Buffer): string {
  if (block[0] === 0x1f && block[1] === 0x8b) {
    return "the file is gzip-compressed; decompress it (gunzip) and try again";
  }
  if (block[0] === 0x28 && block[1] === 0xb5 && block[2] === 0x2f && block[3] === 0xfd) {
    return "the file is zstd-compressed; decompress it (zstd -d) and try again";
  }
  if (block.toString("latin1", 0, 6) === "\u00fd7zXZ\u0000") {
    return "the file is xz-compressed; decompress it (unxz) and try again";
  }
  if (block.toString("latin1", 0, 3) === "BZh") {
    return "the file is bzip2-compressed; decompress it (bunzip2) and try again";
  }
  return "the file does not look like an uncompressed tar archive";
}

/** ustar keeps a 155-byte name prefix; star a 131-byte one; GNU and v7 headers have none. */
function readPrefix(block: Buffer, magic: string): string {
  if (magic !== USTAR_MAGIC) return "";
  if (block.toString("latin1", FIELD.starTrailer[0], FIELD.starTrailer[1]) === STAR_TRAILER) {
    return readString(block, FIELD.starPrefix);
  }
  return readString(block, FIELD.prefix);
}

function joinPrefix(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}/${name}`;
}

/** The size field: octal, or base-256 for entries of 8 GiB and more. */
function readSize(block: Buffer, where: HeaderLocation): number {
  const size = readNumber(block, FIELD.size, "size", where);
  if (size < 0) throw badHeader(where, `negative entry size ${size}`);
  return size;
}

/** A NUL-terminated string field, decoded as UTF-8. */
function readString(block: Buffer, [start, end]: Field): string {
  const nul = block.indexOf(0, start);
  const stop = nul === -1 || nul > end ? end : nul;
  return block.toString("utf8", start, stop);
}

/** A numeric field: octal text (space/NUL padded) or GNU base-256 binary. */
function readNumber(block: Buffer, field: Field, label: string, where: HeaderLocation): number {
  const bytes = block.subarray(field[0], field[1]);
  const value = (bytes[0] ?? 0) & 0x80 ? parseBase256(bytes) : parseOctal(bytes);
  if (value === undefined || !Number.isSafeInteger(value)) {
    throw badHeader(where, `invalid ${label} field ${JSON.stringify(bytes.toString("latin1"))}`);
  }
  return value;
}

/** Octal digits padded with spaces or NULs on either side; empty means 0. */
export function parseOctal(bytes: Buffer): number | undefined {
  const text = bytes.toString("latin1").replace(/^[\0 ]+|[\0 ]+$/g, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return Number.parseInt(text, 8);
}

/** GNU base-256: high bit of the first byte set; 0xff in the first byte means negative. */
export function parseBase256(bytes: Buffer): number | undefined {
  const negative = ((bytes[0] ?? 0) & 0x40) !== 0;
  let value = BigInt((bytes[0] ?? 0) & 0x3f) - (negative ? 0x40n : 0n);
  for (let i = 1; i < bytes.length; i++) {
    value = (value << 8n) | BigInt(bytes[i] ?? 0);
  }
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    return undefined;
  }
  return Number(value);
}

/** The records of a PAX extended header that ferry cares about, plus whether the entry is sparse. */
export interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  mtime?: number;
  /** A GNU sparse entry stored through PAX: its data is not the file's bytes. */
  sparse?: boolean;
}

/**
 * Parse a PAX extended header payload ("<len> <key>=<value>\n" records) into overrides,
 * merged over `base` (several 'x' headers may precede one entry). An empty value removes
 * the override, as POSIX says.
 */
export function parsePaxRecords(
  payload: Buffer,
  where: HeaderLocation,
  base: PaxRecords = {},
): PaxRecords {
  const records: PaxRecords = { ...base };
  let position = 0;
  while (position < payload.length) {
    if (payload[position] === 0) break;
    const record = readPaxRecord(payload, position, where);
    applyPaxRecord(records, record.key, record.value, where);
    position = record.next;
  }
  return records;
}

function readPaxRecord(
  payload: Buffer,
  position: number,
  where: HeaderLocation,
): { key: string; value: string; next: number } {
  const space = payload.indexOf(0x20, position);
  const lengthText = space === -1 ? "" : payload.toString("latin1", position, space);
  const length = /^[0-9]+$/.test(lengthText) ? Number.parseInt(lengthText, 10) : Number.NaN;
  const next = position + length;
  if (!Number.isSafeInteger(length) || next > payload.length || payload[next - 1] !== 0x0a) {
    throw badHeader(where, `malformed PAX record at payload byte ${position}`);
  }
  const record = payload.toString("utf8", space + 1, next - 1);
  const equals = record.indexOf("=");
  if (equals <= 0) throw badHeader(where, `malformed PAX record at payload byte ${position}`);
  return { key: record.slice(0, equals), value: record.slice(equals + 1), next };
}

function applyPaxRecord(
  records: PaxRecords,
  key: string,
  value: string,
  where: HeaderLocation,
): void {
  if (key.startsWith("GNU.sparse.")) {
    records.sparse = true;
    return;
  }
  if (key !== "path" && key !== "linkpath" && key !== "size" && key !== "mtime") return;
  if (value === "") {
    delete records[key];
    return;
  }
  if (key === "path" || key === "linkpath") {
    records[key] = value;
  } else if (key === "size") {
    records.size = parsePaxSize(value, where);
  } else {
    records.mtime = parsePaxMtime(value, where);
  }
}

function parsePaxSize(value: string, where: HeaderLocation): number {
  const size = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(size)) throw badHeader(where, `invalid PAX size ${value}`);
  return size;
}

function parsePaxMtime(value: string, where: HeaderLocation): number {
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(value)) throw badHeader(where, `invalid PAX mtime ${value}`);
  return Math.floor(Number(value));
}

/** A GNU 'L'/'K' payload: the name up to the first NUL. */
export function parseGnuLongName(payload: Buffer): string {
  const nul = payload.indexOf(0);
  return payload.toString("utf8", 0, nul === -1 ? payload.length : nul);
}

/** FerryError "EBADIMAGE" for a header problem, naming the archive and the byte offset. */
export function badHeader(where: HeaderLocation, problem: string, hint?: string): FerryError {
  return new FerryError(
    "EBADIMAGE",
    `${where.archivePath}: invalid tar header at byte offset ${where.offset}: ${problem}`,
    {
      ...(hint ? { hint } : {}),
      details: { archive: where.archivePath, offset: where.offset },
    },
  );
}
