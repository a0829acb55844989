import {
  CENTRAL_HEADER_SIGNATURE,
  END_SIGNATURE,
  LOCAL_HEADER_SIGNATURE,
  MAX16,
  MAX32,
  ZIP64_END_SIGNATURE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIGNATURE,
} from "./zip-format.js";

/**
 * The records of a STORED-only zip archive as ferry writes them (APPNOTE 6.3): local headers
 * that carry sizes (and a zip64 extra field when an entry needs one) instead of trailing data
 * descriptors, central headers, and the end records. Encoding only: where they go is the
 * writers' job.
 */

const FLAG_UTF8 = 0x0800;
const VERSION_ZIP64 = 45;
const VERSION_DEFAULT = 20;
/** Unix host, spec version 4.5. */
const VERSION_MADE_BY = (3 << 8) | VERSION_ZIP64;
/** A regular file, rw-r--r--. */
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;
/** Where the CRC-32 lies in a local header (a sequential writer patches it in there). */
export const CRC_OFFSET_IN_LOCAL_HEADER = 14;
/** A local zip64 extra field: id, length, then both sizes. */
const ZIP64_LOCAL_EXTRA_LENGTH = 20;

/** An entry's modification time, as the two 16-bit MS-DOS fields of every header. */
export interface DosStamp {
  time: number;
  date: number;
}

/** A complete entry, as the central directory lists it. */
export interface WrittenEntry {
  name: Buffer;
  size: number;
  crc: number;
  offset: number;
}

export function dosStamp(date: Date): DosStamp {
  const year = Math.max(1980, date.getUTCFullYear());
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

/** Bytes of an entry's local header: fixed part, name, and a zip64 extra field when needed. */
export function localHeaderLength(name: Buffer, size: number): number {
  return 30 + name.length + (size >= MAX32 ? ZIP64_LOCAL_EXTRA_LENGTH : 0);
}

/**
 * A complete local header for an entry of `size` bytes starting at `offset`. `crc` is zero
 * when the data is still to come (a sequential writer patches it in at
 * CRC_OFFSET_IN_LOCAL_HEADER).
 */
export function localHeader(
  name: Buffer,
  size: number,
  offset: number,
  stamp: DosStamp,
  crc = 0,
): Buffer {
  const zip64 = size >= MAX32;
  const header = Buffer.alloc(localHeaderLength(name, size));
  header.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
  // Same rule as the central header: an entry starting past 4 GiB also needs zip64.
  header.writeUInt16LE(zip64 || offset >= MAX32 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  header.writeUInt16LE(FLAG_UTF8, 6);
  header.writeUInt16LE(0, 8);
  header.writeUInt16LE(stamp.time, 10);
  header.writeUInt16LE(stamp.date, 12);
  header.writeUInt32LE(crc, CRC_OFFSET_IN_LOCAL_HEADER);
  header.writeUInt32LE(zip64 ? MAX32 : size, 18);
  header.writeUInt32LE(zip64 ? MAX32 : size, 22);
  header.writeUInt16LE(name.length, 26);
  header.writeUInt16LE(zip64 ? ZIP64_LOCAL_EXTRA_LENGTH : 0, 28);
  name.copy(header, 30);
  if (zip64) {
    const extra = 30 + name.length;
    header.writeUInt16LE(ZIP64_EXTRA_ID, extra);
    header.writeUInt16LE(16, extra + 2);
    header.writeBigUInt64LE(BigInt(size), extra + 4);
    header.writeBigUInt64LE(BigInt(size), extra + 12);
  }
  return header;
}

function centralHeader(entry: WrittenEntry, stamp: DosStamp): Buffer {
  const sizeNeeds64 = entry.size >= MAX32;
  const offsetNeeds64 = entry.offset >= MAX32;
  const extraLength =
    sizeNeeds64 || offsetNeeds64 ? 4 + (sizeNeeds64 ? 16 : 0) + (offsetNeeds64 ? 8 : 0) : 0;
  const header = Buffer.alloc(46 + entry.name.length + extraLength);
  header.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(VERSION_MADE_BY, 4);
  header.writeUInt16LE(extraLength ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
  header.writeUInt16LE(FLAG_UTF8, 8);
  header.writeUInt16LE(0, 10);
  header.writeUInt16LE(stamp.time, 12);
  header.writeUInt16LE(stamp.date, 14);
  header.writeUInt32LE(entry.crc, 16);
  header.writeUInt32LE(sizeNeeds64 ? MAX32 : entry.size, 20);
  header.writeUInt32LE(sizeNeeds64 ? MAX32 : entry.size, 24);
  header.writeUInt16LE(entry.name.length, 28);
  header.writeUInt16LE(extraLength, 30);
  header.writeUInt16LE(0, 32);
  header.writeUInt16LE(0, 34);
  header.writeUInt16LE(0, 36);
  header.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
  header.writeUInt32LE(offsetNeeds64 ? MAX32 : entry.offset, 42);
  entry.name.copy(header, 46);
  if (extraLength) {
    let at = 46 + entry.name.length;
    header.writeUInt16LE(ZIP64_EXTRA_ID, at);
    header.writeUInt16LE(extraLength - 4, at + 2);
    at += 4;
    if (sizeNeeds64) {
      header.writeBigUInt64LE(BigInt(entry.size), at);
      header.writeBigUInt64LE(BigInt(entry.size), at + 8);
      at += 16;
    }
    if (offsetNeeds64) header.writeBigUInt64LE(BigInt(entry.offset), at);
  }
  return header;
}

function endRecords(count: number, centralOffset: number, centralSize: number): Buffer {
  const needs64 = count >= MAX16 || centralOffset >= MAX32 || centralSize >= MAX32;
  const parts: Buffer[] = [];
  if (needs64) {
    const zip64End = Buffer.alloc(56);
    zip64End.writeUInt32LE(ZIP64_END_SIGNATURE, 0);
    zip64End.writeBigUInt64LE(44n, 4);
    zip64End.writeUInt16LE(VERSION_MADE_BY, 12);
    zip64End.writeUInt16LE(VERSION_ZIP64, 14);
    zip64End.writeBigUInt64LE(BigInt(count), 24);
    zip64End.writeBigUInt64LE(BigInt(count), 32);
    zip64End.writeBigUInt64LE(BigInt(centralSize), 40);
    zip64End.writeBigUInt64LE(BigInt(centralOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP64_LOCATOR_SIGNATURE, 0);
    locator.writeBigUInt64LE(BigInt(centralOffset + centralSize), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(zip64End, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_SIGNATURE, 0);
  end.writeUInt16LE(needs64 ? MAX16 : count, 8);
  end.writeUInt16LE(needs64 ? MAX16 : count, 10);
  end.writeUInt32LE(needs64 ? MAX32 : centralSize, 12);
  end.writeUInt32LE(needs64 ? MAX32 : centralOffset, 16);
  parts.push(end);
  return Buffer.concat(parts);
}

/**
 * The archive's tail, to be written at `centralOffset` right after the last entry: the central
 * directory (entries in the order they lie, whatever order they finished in) and the end
 * records.
 */
export function archiveTail(
  entries: readonly WrittenEntry[],
  stamp: DosStamp,
  centralOffset: number,
): Buffer {
  const inOrder = [...entries].sort((a, b) => a.offset - b.offset);
  const central = Buffer.concat(inOrder.map((entry) => centralHeader(entry, stamp)));
  return Buffer.concat([central, endRecords(entries.length, centralOffset, central.length)]);
}
