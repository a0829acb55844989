import { crc32 } from "node:zlib";

/**
 * A zip writer that does exactly what it is told, for hostile test input: any name bytes, any
 * declared sizes, CRCs, methods, attributes and offsets, local headers that disagree with the
 * central directory, entries that share or overlap data, and end records that lie. Nothing
 * here is checked; that is the point.
 */

export interface RawEntry {
  /** Name in the central directory (a string is UTF-8 encoded). */
  name: string | Buffer;
  /** The bytes stored in the archive (already deflated when method is 8). */
  data: Buffer;
  /** 0 stored (default), 8 deflate, anything else to test refusal. */
  method?: number;
  /** Declared uncompressed size (default: data length). */
  size?: number;
  /** Declared compressed size (default: data length). */
  compressedSize?: number;
  /** Declared CRC-32 (default: CRC of data when stored, else 0). */
  crc?: number;
  /** Default Unix host, version 2.0. */
  versionMadeBy?: number;
  /** Default a regular file rw-r--r-- (0o100644 << 16). */
  externalAttributes?: number;
  /** Default UTF-8 (bit 11). */
  flags?: number;
  /** A different name in the local header. */
  localName?: string | Buffer;
  /** Different sizes in the local header. */
  localSize?: number;
  localCompressedSize?: number;
  /** Write no local header or data: the central header points at `pointAt` (an earlier entry). */
  centralOnly?: boolean;
  /** With centralOnly: index of the entry whose local header this central header names. */
  pointAt?: number;
  /** Override the central directory's local-header offset outright. */
  localOffset?: number;
}

export interface RawZipOptions {
  /** Always write zip64 end records (they are written anyway past 65,534 entries). */
  zip64?: boolean;
  /** Lie about the entry count in the end records (zip64 when it does not fit 16 bits). */
  claimEntries?: number;
  /** Bytes after the end record (an archive comment is declared for them when `comment`). */
  trailing?: Buffer;
}

const toBytes = (name: string | Buffer) => (typeof name === "string" ? Buffer.from(name) : name);

export function buildZip(entries: RawEntry[], options: RawZipOptions = {}): Buffer {
  const chunks: Buffer[] = [];
  let position = 0;
  const offsets: number[] = [];
  const push = (buffer: Buffer) => {
    chunks.push(buffer);
    position += buffer.length;
  };
  const crcOf = (entry: RawEntry) =>
    entry.crc ?? ((entry.method ?? 0) === 0 ? crc32(entry.data) >>> 0 : 0);
  /** The fields local and central headers share, from "version needed" to the extra length. */
  const writeSharedFields = (
    header: Buffer,
    at: number,
    entry: RawEntry,
    nameLength: number,
    sizes: { compressed: number; size: number },
  ) => {
    header.writeUInt16LE(20, at);
    header.writeUInt16LE(entry.flags ?? 0x0800, at + 2);
    header.writeUInt16LE(entry.method ?? 0, at + 4);
    header.writeUInt16LE(0, at + 6);
    header.writeUInt16LE((46 << 9) | (1 << 5) | 1, at + 8);
    header.writeUInt32LE(crcOf(entry), at + 10);
    header.writeUInt32LE(sizes.compressed >>> 0, at + 14);
    header.writeUInt32LE(sizes.size >>> 0, at + 18);
    header.writeUInt16LE(nameLength, at + 22);
    header.writeUInt16LE(0, at + 24);
  };
  for (const entry of entries) {
    if (entry.centralOnly) {
      offsets.push(-1);
      continue;
    }
    offsets.push(position);
    const name = toBytes(entry.localName ?? entry.name);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    writeSharedFields(header, 4, entry, name.length, {
      compressed: entry.localCompressedSize ?? entry.compressedSize ?? entry.data.length,
      size: entry.localSize ?? entry.size ?? entry.data.length,
    });
    push(header);
    push(name);
    push(entry.data);
  }
  const centralStart = position;
  for (const [i, entry] of entries.entries()) {
    const name = toBytes(entry.name);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(entry.versionMadeBy ?? (3 << 8) | 20, 4);
    writeSharedFields(header, 6, entry, name.length, {
      compressed: entry.compressedSize ?? entry.data.length,
      size: entry.size ?? entry.data.length,
    });
    header.writeUInt16LE(0, 32);
    header.writeUInt16LE(0, 34);
    header.writeUInt16LE(0, 36);
    header.writeUInt32LE((entry.externalAttributes ?? 0o100644 << 16) >>> 0, 38);
    const local =
      entry.localOffset ??
      (entry.centralOnly ? (offsets[entry.pointAt ?? 0] ?? 0) : (offsets[i] ?? 0));
    header.writeUInt32LE(local >>> 0, 42);
    push(header);
    push(name);
  }
  const centralSize = position - centralStart;
  const count = options.claimEntries ?? entries.length;
  const needs64 = options.zip64 || count >= 0xffff;
  if (needs64) {
    const zip64End = Buffer.alloc(56);
    zip64End.writeUInt32LE(0x06064b50, 0);
    zip64End.writeBigUInt64LE(44n, 4);
    zip64End.writeUInt16LE((3 << 8) | 45, 12);
    zip64End.writeUInt16LE(45, 14);
    zip64End.writeBigUInt64LE(BigInt(count), 24);
    zip64End.writeBigUInt64LE(BigInt(count), 32);
    zip64End.writeBigUInt64LE(BigInt(centralSize), 40);
    zip64End.writeBigUInt64LE(BigInt(centralStart), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(position), 8);
    locator.writeUInt32LE(1, 16);
    push(zip64End);
    push(locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(needs64 ? 0xffff : count, 8);
  end.writeUInt16LE(needs64 ? 0xffff : count, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(centralStart, 16);
  end.writeUInt16LE(options.trailing?.length ?? 0, 20);
  push(end);
  if (options.trailing) push(options.trailing);
  return Buffer.concat(chunks);
}
