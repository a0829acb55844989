/**
 * Field-by-field checks of a zip's headers, beyond what a reader needs to find the data: every
 * local header must repeat its central header, and fields no reader uses (disk numbers, counts
 * stored twice, attributes, comments) must hold sane values. With the sha256 of every entry's
 * data, this makes any single damaged byte of a ferry bundle detectable. Pure functions.
 */

import {
  CENTRAL_HEADER_SIGNATURE as CENTRAL_SIGNATURE,
  END_SIGNATURE,
  LOCAL_HEADER_SIGNATURE as LOCAL_SIGNATURE,
  MAX16,
  MAX32,
  ZIP64_END_SIGNATURE,
  ZIP64_LOCATOR_SIGNATURE,
} from "./zip-format.js";

/** Hosts in "version made by": MS-DOS, Unix, NTFS, VFAT, macOS. */
const KNOWN_HOSTS = new Set([0, 3, 10, 11, 19]);
/** General-purpose flags a bundle may use: deflate options (1, 2), data descriptor (3), UTF-8 (11). */
const ALLOWED_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800;
/** Unix permissions seen on files that archivers write. */
const USUAL_PERMISSIONS = new Set([
  0o600, 0o640, 0o644, 0o664, 0o666, 0o444, 0o700, 0o750, 0o755, 0o775, 0o777,
]);
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
/** MS-DOS attribute bytes: none, read-only, directory, archive, and combinations. */
const DOS_ATTRIBUTES = new Set([0x00, 0x01, 0x10, 0x11, 0x20, 0x21, 0x30]);

/** The fields a local header repeats from its central header, in the same order. */
export interface LocalHeader {
  versionNeeded: number;
  flags: number;
  method: number;
  time: number;
  date: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  nameLength: number;
  extraLength: number;
}

/** The fixed part of a central directory header. */
export interface CentralHeader extends LocalHeader {
  versionMadeBy: number;
  commentLength: number;
  diskStart: number;
  internalAttributes: number;
  externalAttributes: number;
  localHeaderOffset: number;
  name: Buffer;
  extra: Buffer;
  /** Bytes this header takes in the central directory. */
  length: number;
}

/** The shared run of fields, starting at version-needed (central: offset 6, local: offset 4). */
function readSharedFields(buffer: Buffer, at: number): LocalHeader {
  return {
    versionNeeded: buffer.readUInt16LE(at),
    flags: buffer.readUInt16LE(at + 2),
    method: buffer.readUInt16LE(at + 4),
    time: buffer.readUInt16LE(at + 6),
    date: buffer.readUInt16LE(at + 8),
    crc32: buffer.readUInt32LE(at + 10),
    compressedSize: buffer.readUInt32LE(at + 14),
    uncompressedSize: buffer.readUInt32LE(at + 18),
    nameLength: buffer.readUInt16LE(at + 22),
    extraLength: buffer.readUInt16LE(at + 24),
  };
}

/** Parse the central header at `at`; undefined when it is not one or runs past the buffer. */
export function parseCentralHeader(buffer: Buffer, at: number): CentralHeader | undefined {
  if (at + 46 > buffer.length || buffer.readUInt32LE(at) !== CENTRAL_SIGNATURE) return undefined;
  const nameLength = buffer.readUInt16LE(at + 28);
  const extraLength = buffer.readUInt16LE(at + 30);
  const commentLength = buffer.readUInt16LE(at + 32);
  const length = 46 + nameLength + extraLength + commentLength;
  if (at + length > buffer.length) return undefined;
  return {
    ...readSharedFields(buffer, at + 6),
    versionMadeBy: buffer.readUInt16LE(at + 4),
    commentLength,
    diskStart: buffer.readUInt16LE(at + 34),
    internalAttributes: buffer.readUInt16LE(at + 36),
    externalAttributes: buffer.readUInt32LE(at + 38),
    localHeaderOffset: buffer.readUInt32LE(at + 42),
    name: buffer.subarray(at + 46, at + 46 + nameLength),
    extra: buffer.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength),
    length,
  };
}

function judgeVersion(value: number, what: string, problems: string[]): void {
  if ((value & 0xff) > 63)
    problems.push(`${what} ${value & 0xff} is not a zip specification version`);
}

/** Problems with fields of a central header that no reader needs but damage would change. */
export function judgeCentralHeader(header: CentralHeader): string[] {
  const problems: string[] = [];
  const host = header.versionMadeBy >> 8;
  if (!KNOWN_HOSTS.has(host))
    problems.push(`central header names an unknown host system (${host})`);
  judgeVersion(header.versionMadeBy, "central header's version-made-by", problems);
  judgeVersion(header.versionNeeded, "central header's version-needed", problems);
  if (header.versionNeeded >> 8 !== 0)
    problems.push("central header's version-needed has a host byte");
  if (header.flags & ~ALLOWED_FLAGS) {
    problems.push(`central header has unexpected flags 0x${header.flags.toString(16)}`);
  }
  if (header.commentLength !== 0) problems.push("has an entry comment (ferry writes none)");
  if (header.diskStart !== 0) problems.push(`claims to start on disk ${header.diskStart}`);
  if (header.internalAttributes > 1) {
    problems.push(`has unexpected internal attributes 0x${header.internalAttributes.toString(16)}`);
  }
  const mode = header.externalAttributes >>> 16;
  const dos = header.externalAttributes & 0xffff;
  if (!DOS_ATTRIBUTES.has(dos))
    problems.push(`has unexpected MS-DOS attributes 0x${dos.toString(16)}`);
  if (host === 3 && mode !== 0) {
    const type = mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) {
      problems.push(
        `has Unix file type 0o${type.toString(8)} (only regular files and folders are allowed)`,
      );
    } else if (!USUAL_PERMISSIONS.has(mode & 0o7777)) {
      problems.push(`has unusual Unix permissions 0o${(mode & 0o7777).toString(8)}`);
    }
  } else if (host !== 3 && mode !== 0) {
    problems.push("has Unix mode bits from a non-Unix host");
  }
  return problems;
}

/** The fixed part of a local header (30 bytes, then name and extra). */
export function parseLocalHeader(bytes: Buffer): LocalHeader | undefined {
  if (bytes.length < 30 || bytes.readUInt32LE(0) !== LOCAL_SIGNATURE) return undefined;
  return readSharedFields(bytes, 4);
}

/** Every field a local header repeats must equal the central header's. */
export function compareLocalToCentral(local: LocalHeader, central: CentralHeader): string[] {
  const problems: string[] = [];
  const same = (field: keyof LocalHeader & keyof CentralHeader, label: string) => {
    if (local[field] !== central[field]) {
      problems.push(`local header and central directory disagree on the ${label}`);
    }
  };
  same("versionNeeded", "version needed");
  same("flags", "flags");
  same("method", "compression method");
  same("time", "modification time");
  same("date", "modification date");
  same("nameLength", "name length");
  const deferred = (central.flags & 0x0008) !== 0;
  if (!deferred) {
    same("crc32", "CRC-32");
    if (central.compressedSize !== MAX32) same("compressedSize", "compressed size");
    if (central.uncompressedSize !== MAX32) same("uncompressedSize", "uncompressed size");
  }
  return problems;
}

/** Where the end records are and what they say. */
export interface EndRecords {
  entries: number;
  centralSize: number;
  centralOffset: number;
  /** Offset of the first end record (zip64 end record, or the classic one). */
  endStart: number;
  problems: string[];
}

/**
 * Parse and judge the end records from the file's tail (`tail` holds the last bytes, starting
 * at `tailStart`). The classic record must end the file (no archive comment).
 */
export function judgeEndRecords(
  tail: Buffer,
  tailStart: number,
  fileSize: number,
): EndRecords | undefined {
  const at = tail.length - 22;
  if (at < 0 || tail.readUInt32LE(at) !== END_SIGNATURE) return undefined;
  const problems: string[] = [];
  const disk = tail.readUInt16LE(at + 4);
  const centralDisk = tail.readUInt16LE(at + 6);
  const onDisk = tail.readUInt16LE(at + 8);
  const total = tail.readUInt16LE(at + 10);
  const size = tail.readUInt32LE(at + 12);
  const offset = tail.readUInt32LE(at + 16);
  if (tail.readUInt16LE(at + 20) !== 0) problems.push("the end record declares an archive comment");
  if (disk !== 0 || centralDisk !== 0) problems.push("the end record names another disk");
  if (onDisk !== total) problems.push("the end record's two entry counts disagree");
  const records: EndRecords = {
    entries: total,
    centralSize: size,
    centralOffset: offset,
    endStart: tailStart + at,
    problems,
  };
  const needs64 = total === MAX16 || onDisk === MAX16 || size === MAX32 || offset === MAX32;
  const locatorAt = at - 20;
  const hasLocator = locatorAt >= 0 && tail.readUInt32LE(locatorAt) === ZIP64_LOCATOR_SIGNATURE;
  if (!needs64 && !hasLocator) return records;
  if (!hasLocator) {
    problems.push("the end record needs zip64 records that are missing");
    return records;
  }
  if (tail.readUInt32LE(locatorAt + 4) !== 0 || tail.readUInt32LE(locatorAt + 16) !== 1) {
    problems.push("the zip64 locator names another disk");
  }
  const zip64At = Number(tail.readBigUInt64LE(locatorAt + 8)) - tailStart;
  if (
    zip64At < 0 ||
    zip64At + 56 > locatorAt ||
    tail.readUInt32LE(zip64At) !== ZIP64_END_SIGNATURE
  ) {
    problems.push("the zip64 locator does not point at the zip64 end record");
    return records;
  }
  if (zip64At + 56 !== locatorAt) problems.push("the zip64 end record has unexpected extra data");
  if (tail.readBigUInt64LE(zip64At + 4) !== 44n)
    problems.push("the zip64 end record declares a wrong size");
  judgeVersion(tail.readUInt16LE(zip64At + 12), "zip64 version-made-by", problems);
  judgeVersion(tail.readUInt16LE(zip64At + 14), "zip64 version-needed", problems);
  if (tail.readUInt32LE(zip64At + 16) !== 0 || tail.readUInt32LE(zip64At + 20) !== 0) {
    problems.push("the zip64 end record names another disk");
  }
  const onDisk64 = tail.readBigUInt64LE(zip64At + 24);
  const total64 = tail.readBigUInt64LE(zip64At + 32);
  if (onDisk64 !== total64) problems.push("the zip64 end record's two entry counts disagree");
  records.entries = Number(total64);
  records.centralSize = Number(tail.readBigUInt64LE(zip64At + 40));
  records.centralOffset = Number(tail.readBigUInt64LE(zip64At + 48));
  records.endStart = tailStart + zip64At;
  const classicAgrees =
    (total === MAX16 || total === records.entries) &&
    (size === MAX32 || size === records.centralSize) &&
    (offset === MAX32 || offset === records.centralOffset);
  if (!classicAgrees) problems.push("the end record and the zip64 end record disagree");
  if (records.endStart > fileSize) problems.push("the end records run past the end of the file");
  return records;
}
