/**
 * A map of every byte of a zip file: which structure it belongs to (local header, entry data,
 * central directory header, zip64 records, end of central directory) and which field. Parsed
 * here from the APPNOTE layout on purpose, not with ferry's own reader, so the corruption tests
 * do not share ferry's assumptions about where things are.
 */

export type ZipStructure =
  | "local header"
  | "entry data"
  | "central directory"
  | "zip64 end record"
  | "zip64 locator"
  | "end of central directory";

export interface ZipField {
  structure: ZipStructure;
  /** Field name as in APPNOTE (signature, crc32, name, ...), or "data". */
  field: string;
  /** The entry the field belongs to (for headers and data). */
  entry?: string;
  /** [start, end) in the file. */
  start: number;
  end: number;
}

export interface ZipMapEntry {
  name: string;
  localHeader: number;
  dataStart: number;
  dataEnd: number;
  centralHeader: number;
  centralEnd: number;
}

export interface ZipMap {
  size: number;
  fields: ZipField[];
  entries: ZipMapEntry[];
  centralDirectoryStart: number;
  endRecordStart: number;
}

const LOCAL_FIELDS: Array<[string, number]> = [
  ["signature", 4],
  ["version needed", 2],
  ["flags", 2],
  ["method", 2],
  ["mod time", 2],
  ["mod date", 2],
  ["crc32", 4],
  ["compressed size", 4],
  ["uncompressed size", 4],
  ["name length", 2],
  ["extra length", 2],
];

/** The central header: "version made by", then the local header's fields, then its own. */
const CENTRAL_FIELDS: Array<[string, number]> = [
  ["signature", 4],
  ["version made by", 2],
  ...LOCAL_FIELDS.slice(1),
  ["comment length", 2],
  ["disk number start", 2],
  ["internal attributes", 2],
  ["external attributes", 4],
  ["local header offset", 4],
];

const EOCD_FIELDS: Array<[string, number]> = [
  ["signature", 4],
  ["disk number", 2],
  ["central directory disk", 2],
  ["entries on this disk", 2],
  ["total entries", 2],
  ["central directory size", 4],
  ["central directory offset", 4],
  ["comment length", 2],
];

const ZIP64_END_FIELDS: Array<[string, number]> = [
  ["signature", 4],
  ["record size", 8],
  ["version made by", 2],
  ["version needed", 2],
  ["disk number", 4],
  ["central directory disk", 4],
  ["entries on this disk", 8],
  ["total entries", 8],
  ["central directory size", 8],
  ["central directory offset", 8],
];

const ZIP64_LOCATOR_FIELDS: Array<[string, number]> = [
  ["signature", 4],
  ["zip64 end disk", 4],
  ["zip64 end offset", 8],
  ["total disks", 4],
];

function fixedFields(
  structure: ZipStructure,
  layout: Array<[string, number]>,
  at: number,
  entry?: string,
): ZipField[] {
  const fields: ZipField[] = [];
  let offset = at;
  for (const [field, length] of layout) {
    fields.push({
      structure,
      field,
      start: offset,
      end: offset + length,
      ...(entry ? { entry } : {}),
    });
    offset += length;
  }
  return fields;
}

/** A header's variable part: the name, then the extra field when there is one. */
function nameAndExtra(
  structure: ZipStructure,
  entry: string,
  nameStart: number,
  nameLength: number,
  extraLength: number,
): ZipField[] {
  const nameEnd = nameStart + nameLength;
  const fields: ZipField[] = [{ structure, field: "name", entry, start: nameStart, end: nameEnd }];
  if (extraLength > 0) {
    fields.push({ structure, field: "extra", entry, start: nameEnd, end: nameEnd + extraLength });
  }
  return fields;
}

/** Map a well-formed zip (as ferry writes it). Throws on anything unexpected. */
export function mapZip(bytes: Buffer): ZipMap {
  const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("no end of central directory record");
  const fields: ZipField[] = [];
  let count = bytes.readUInt16LE(eocd + 10);
  let cdSize = bytes.readUInt32LE(eocd + 12);
  let cdOffset = bytes.readUInt32LE(eocd + 16);
  const locator = eocd - 20;
  if (locator >= 0 && bytes.readUInt32LE(locator) === 0x07064b50) {
    const zip64End = Number(bytes.readBigUInt64LE(locator + 8));
    if (bytes.readUInt32LE(zip64End) !== 0x06064b50) throw new Error("bad zip64 end record");
    count = Number(bytes.readBigUInt64LE(zip64End + 32));
    cdSize = Number(bytes.readBigUInt64LE(zip64End + 40));
    cdOffset = Number(bytes.readBigUInt64LE(zip64End + 48));
    fields.push(...fixedFields("zip64 end record", ZIP64_END_FIELDS, zip64End));
    fields.push(...fixedFields("zip64 locator", ZIP64_LOCATOR_FIELDS, locator));
  }
  fields.push(...fixedFields("end of central directory", EOCD_FIELDS, eocd));
  const entries: ZipMapEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (bytes.readUInt32LE(at) !== 0x02014b50) throw new Error(`no central header at ${at}`);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    const name = bytes.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    let compressed = bytes.readUInt32LE(at + 20);
    let local = bytes.readUInt32LE(at + 42);
    fields.push(...fixedFields("central directory", CENTRAL_FIELDS, at, name));
    fields.push(...nameAndExtra("central directory", name, at + 46, nameLength, extraLength));
    if (extraLength > 0) {
      // zip64 extra: sizes then offset, each present only when its 32-bit field is 0xffffffff.
      let extra = at + 46 + nameLength + 4;
      if (bytes.readUInt32LE(at + 24) === 0xffffffff) extra += 8;
      if (compressed === 0xffffffff) {
        compressed = Number(bytes.readBigUInt64LE(extra));
        extra += 8;
      }
      if (local === 0xffffffff) local = Number(bytes.readBigUInt64LE(extra));
    }
    const centralEnd = at + 46 + nameLength + extraLength + commentLength;
    if (bytes.readUInt32LE(local) !== 0x04034b50) throw new Error(`no local header at ${local}`);
    const localName = bytes.readUInt16LE(local + 26);
    const localExtra = bytes.readUInt16LE(local + 28);
    const dataStart = local + 30 + localName + localExtra;
    fields.push(...fixedFields("local header", LOCAL_FIELDS, local, name));
    fields.push(...nameAndExtra("local header", name, local + 30, localName, localExtra));
    if (compressed > 0) {
      fields.push({
        structure: "entry data",
        field: "data",
        entry: name,
        start: dataStart,
        end: dataStart + compressed,
      });
    }
    entries.push({
      name,
      localHeader: local,
      dataStart,
      dataEnd: dataStart + compressed,
      centralHeader: at,
      centralEnd,
    });
    at = centralEnd;
  }
  if (at !== cdOffset + cdSize)
    throw new Error("central directory size disagrees with its entries");
  fields.sort((a, b) => a.start - b.start);
  for (let i = 1; i < fields.length; i++) {
    const previous = fields[i - 1] as ZipField;
    const current = fields[i] as ZipField;
    if (current.start < previous.end) {
      throw new Error(`fields overlap: ${previous.field} and ${current.field} at ${current.start}`);
    }
  }
  return {
    size: bytes.length,
    fields,
    entries,
    centralDirectoryStart: cdOffset,
    endRecordStart: fields.find((f) => f.structure !== "entry data" && f.start >= cdOffset + cdSize)
      ?.start as number,
  };
}

/** The field a byte offset falls in. */
export function fieldAt(map: ZipMap, offset: number): ZipField | undefined {
  let low = 0;
  let high = map.fields.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const field = map.fields[middle] as ZipField;
    if (offset < field.start) high = middle - 1;
    else if (offset >= field.end) low = middle + 1;
    else return field;
  }
  return undefined;
}
