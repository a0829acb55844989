/**
 * Parse the 208-byte header of a WIM file (pure: bytes in, facts or a FerryError out).
 * Layout and flag values follow wimlib's include/wimlib/header.h.
 */

import { FerryError } from "../../errors.js";
import type { WimCompression, WimHeader, WimResourceHeader } from "../../types/wim.js";

/** Size of the on-disk WIM header. */
export const WIM_HEADER_SIZE = 208;

/** `MSWIM\0\0\0`: the magic of every ordinary WIM and split part. */
export const WIM_MAGIC = Buffer.from("MSWIM\0\0\0", "latin1");

/** `WLPWM\0\0\0`: the magic of wimlib's pipable WIMs, which keep their XML elsewhere. */
const PIPABLE_WIM_MAGIC = Buffer.from("WLPWM\0\0\0", "latin1");

/** Header flags, as named by wimlib. */
export const WIM_HEADER_FLAGS = {
  RESERVED: 0x00000001,
  COMPRESSION: 0x00000002,
  READONLY: 0x00000004,
  SPANNED: 0x00000008,
  RESOURCE_ONLY: 0x00000010,
  METADATA_ONLY: 0x00000020,
  WRITE_IN_PROGRESS: 0x00000040,
  RP_FIX: 0x00000080,
  COMPRESS_RESERVED: 0x00010000,
  COMPRESS_XPRESS: 0x00020000,
  COMPRESS_LZX: 0x00040000,
  COMPRESS_LZMS: 0x00080000,
  COMPRESS_XPRESS_2: 0x00200000,
} as const;

/** Resource header flags. */
export const WIM_RESOURCE_FLAGS = {
  FREE: 0x01,
  METADATA: 0x02,
  COMPRESSED: 0x04,
  SPANNED: 0x08,
  SOLID: 0x10,
} as const;

const OFFSETS = {
  magic: 0x00,
  headerSize: 0x08,
  version: 0x0c,
  flags: 0x10,
  chunkSize: 0x14,
  guid: 0x18,
  partNumber: 0x28,
  totalParts: 0x2a,
  imageCount: 0x2c,
  blobTable: 0x30,
  xmlData: 0x48,
  bootMetadata: 0x60,
  bootIndex: 0x78,
  integrityTable: 0x7c,
} as const;

const GUID_SIZE = 16;
const NOT_A_WIM_HINT = "is this a .wim file? A WIM starts with the bytes MSWIM\\0\\0\\0";

/** The names of the header flags that are set, in wimlib's order. */
export function wimHeaderFlagNames(flags: number): string[] {
  return Object.entries(WIM_HEADER_FLAGS)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name);
}

/** The compression type the header flags announce, resolved in wimlib's order (LZX, XPRESS, LZMS). */
export function wimCompressionFromFlags(flags: number, source: string): WimCompression {
  if ((flags & WIM_HEADER_FLAGS.COMPRESSION) === 0) return "none";
  if (flags & WIM_HEADER_FLAGS.COMPRESS_LZX) return "lzx";
  if (flags & (WIM_HEADER_FLAGS.COMPRESS_XPRESS | WIM_HEADER_FLAGS.COMPRESS_XPRESS_2)) {
    return "xpress";
  }
  if (flags & WIM_HEADER_FLAGS.COMPRESS_LZMS) return "lzms";
  throw badWim(
    `${source}: the header says the WIM is compressed but names no known compression type (flags 0x${flags.toString(16)})`,
  );
}

function badWim(message: string, hint?: string): FerryError {
  return new FerryError("EBADWIM", message, hint === undefined ? {} : { hint });
}

/** A little-endian unsigned integer of `width` bytes (≤ 8) that must fit a safe JS number. */
function readSafeUInt(bytes: Buffer, offset: number, width: number, what: string, source: string) {
  let value = 0;
  for (let i = width - 1; i >= 0; i--) value = value * 256 + (bytes[offset + i] ?? 0);
  if (!Number.isSafeInteger(value)) {
    throw badWim(`${source}: ${what} in the WIM header is too large (${value})`);
  }
  return value;
}

/** Parse one 24-byte resource header at `offset`. */
export function parseWimResourceHeader(
  bytes: Buffer,
  offset: number,
  what: string,
  source: string,
): WimResourceHeader {
  const flags = bytes[offset + 7] ?? 0;
  return {
    sizeInWim: readSafeUInt(bytes, offset, 7, `the ${what} size`, source),
    flags,
    offset: readSafeUInt(bytes, offset + 8, 8, `the ${what} offset`, source),
    originalSize: readSafeUInt(bytes, offset + 16, 8, `the ${what} original size`, source),
    compressed: (flags & WIM_RESOURCE_FLAGS.COMPRESSED) !== 0,
  };
}

function checkMagic(bytes: Buffer, source: string): void {
  const magic = bytes.subarray(OFFSETS.magic, OFFSETS.magic + WIM_MAGIC.length);
  if (magic.equals(WIM_MAGIC)) return;
  if (magic.equals(PIPABLE_WIM_MAGIC)) {
    throw badWim(
      `${source}: this is a pipable WIM (magic WLPWM), which ferry cannot read`,
      "convert it to an ordinary WIM with `wimlib-imagex optimize --not-pipable FILE`",
    );
  }
  throw badWim(
    `${source}: not a WIM file (the magic bytes are not MSWIM\\0\\0\\0)`,
    NOT_A_WIM_HINT,
  );
}

function checkLength(bytes: Buffer, source: string): void {
  if (bytes.length >= WIM_HEADER_SIZE) return;
  throw badWim(
    `${source}: truncated WIM header (${bytes.length} bytes, a WIM header is ${WIM_HEADER_SIZE})`,
    NOT_A_WIM_HINT,
  );
}

function checkHeaderSize(headerSize: number, source: string): void {
  if (headerSize === WIM_HEADER_SIZE) return;
  throw badWim(
    `${source}: the WIM header size field is ${headerSize}, expected ${WIM_HEADER_SIZE}`,
    NOT_A_WIM_HINT,
  );
}

function checkParts(partNumber: number, totalParts: number, source: string): void {
  if (totalParts >= 1 && partNumber >= 1 && partNumber <= totalParts) return;
  throw badWim(
    `${source}: impossible split-part numbering in the WIM header (part ${partNumber} of ${totalParts})`,
  );
}

/** A resource that is present must lie wholly inside the file (and not overlap the header). */
export function checkResourceRange(
  resource: WimResourceHeader,
  what: string,
  fileSize: number,
  source: string,
): void {
  if (resource.sizeInWim === 0) return;
  const end = resource.offset + resource.sizeInWim;
  if (resource.offset >= WIM_HEADER_SIZE && end <= fileSize) return;
  throw badWim(
    `${source}: the ${what} (offset ${resource.offset}, ${resource.sizeInWim} bytes) lies outside the file (${fileSize} bytes)`,
    "the file is truncated or damaged; copy it again from its source",
  );
}

function checkResourceRanges(header: WimHeader, fileSize: number, source: string): void {
  checkResourceRange(header.blobTable, "blob table", fileSize, source);
  checkResourceRange(header.xmlData, "XML data", fileSize, source);
  checkResourceRange(header.integrityTable, "integrity table", fileSize, source);
  // Metadata resources live in part 1 of a split set; later parts may point elsewhere.
  if (header.partNumber === 1) {
    checkResourceRange(header.bootMetadata, "boot metadata", fileSize, source);
  }
}

/**
 * Parse and validate the WIM header at the start of `bytes`.
 *
 * @param bytes at least the first 208 bytes of the file (more is ignored)
 * @param fileSize the whole file's size, to check that every resource lies inside it
 * @param source the file path (or another label) that error messages name
 * @throws FerryError EBADWIM when the bytes are not a usable WIM header
 */
export function parseWimHeader(bytes: Buffer, fileSize: number, source: string): WimHeader {
  checkLength(bytes, source);
  checkMagic(bytes, source);
  const headerSize = bytes.readUInt32LE(OFFSETS.headerSize);
  checkHeaderSize(headerSize, source);
  const flags = bytes.readUInt32LE(OFFSETS.flags);
  const partNumber = bytes.readUInt16LE(OFFSETS.partNumber);
  const totalParts = bytes.readUInt16LE(OFFSETS.totalParts);
  checkParts(partNumber, totalParts, source);
  const header: WimHeader = {
    headerSize,
    version: bytes.readUInt32LE(OFFSETS.version),
    flags,
    flagNames: wimHeaderFlagNames(flags),
    compression: wimCompressionFromFlags(flags, source),
    chunkSize: bytes.readUInt32LE(OFFSETS.chunkSize),
    guid: bytes.subarray(OFFSETS.guid, OFFSETS.guid + GUID_SIZE).toString("hex"),
    partNumber,
    totalParts,
    spanned: (flags & WIM_HEADER_FLAGS.SPANNED) !== 0,
    imageCount: bytes.readUInt32LE(OFFSETS.imageCount),
    blobTable: parseWimResourceHeader(bytes, OFFSETS.blobTable, "blob table", source),
    xmlData: parseWimResourceHeader(bytes, OFFSETS.xmlData, "XML data", source),
    bootMetadata: parseWimResourceHeader(bytes, OFFSETS.bootMetadata, "boot metadata", source),
    bootIndex: bytes.readUInt32LE(OFFSETS.bootIndex),
    integrityTable: parseWimResourceHeader(
      bytes,
      OFFSETS.integrityTable,
      "integrity table",
      source,
    ),
  };
  checkResourceRanges(header, fileSize, source);
  return header;
}
