/**
 * Indexing a tar archive without extracting it: walk from header to header (never reading
 * file data), merge PAX / GNU long-name metadata into the entry that follows it, and look
 * entries up by normalized name, following links inside the archive.
 *
 * The scan is I/O-agnostic: it reads through a `TarSource`, so tar-reader.ts supplies
 * positional reads on a file handle and tests can supply a Buffer.
 */

import { FerryError } from "../../errors.js";
import {
  BLOCK_SIZE,
  badHeader,
  type HeaderLocation,
  isZeroBlock,
  notATarHint,
  type PaxRecords,
  paddedSize,
  parseGnuLongName,
  parseHeaderBlock,
  parsePaxRecords,
  type RawTarHeader,
  TYPE_FLAG,
} from "./tar-header.js";

/** What an entry is; char/block devices, FIFOs, sparse files and vendor types are "other". */
export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

/** One member of a tar archive, located by byte range. */
export interface TarEntry {
  /** Normalized name: no leading "./", no "//", no "." segments, no trailing "/". */
  name: string;
  type: TarEntryType;
  /** Bytes of data stored in the archive; 0 for links, directories and devices. */
  size: number;
  /** Byte offset of the entry's data in the archive file. */
  dataOffset: number;
  /** Symlink target as recorded (a path relative to the link's directory), or hardlink target (a normalized member name). */
  linkName?: string;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

/** Positional reads over the archive; may return fewer bytes than asked only at end of file. */
export interface TarSource {
  /** The archive's path, for error messages. */
  path: string;
  /** The archive's size in bytes. */
  size: number;
  readAt(position: number, length: number): Promise<Buffer>;
}

/** Links followed by `TarIndex.find` before giving up (loops, long chains). */
export const MAX_LINK_HOPS = 16;

/** PAX and GNU long-name payloads larger than this are refused as hostile. */
export const MAX_METADATA_PAYLOAD_BYTES = 1024 * 1024;

/** Type flags whose entries carry no data, whatever their size field says. */
const HEADER_ONLY_TYPE_FLAGS = new Set(["1", "2", "3", "4", "5", "6"]);

/** PAX/GNU metadata read from headers that describe the next real entry. */
interface PendingMetadata {
  /** Offset of the first metadata header, for error messages. */
  offset: number;
  pax: PaxRecords;
  longName?: string;
  longLink?: string;
}

/**
 * Read every header of the archive, in order, and return its entries. Throws FerryError
 * "EBADIMAGE" for a bad checksum, a malformed header or a truncated archive.
 */
export async function scanTar(source: TarSource): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  let pending: PendingMetadata | undefined;
  let offset = 0;
  for (;;) {
    const block = await source.readAt(offset, BLOCK_SIZE);
    if (isEndOfArchive(block)) {
      if (pending) throw metadataWithoutEntry(source, pending);
      return entries;
    }
    if (block.length < BLOCK_SIZE) throw shortBlock(source, offset, block);
    const where: HeaderLocation = { archivePath: source.path, offset };
    const header = parseHeaderBlock(block, where);
    const dataOffset = offset + BLOCK_SIZE;
    if (isMetadataHeader(header.typeFlag)) {
      ensureDataFits(source, header.name, dataOffset, header.size);
      pending = await absorbMetadata(source, header, where, pending);
      offset = dataOffset + paddedSize(header.size);
      continue;
    }
    const entry = buildEntry(header, pending, dataOffset);
    ensureDataFits(source, entry.name, dataOffset, entry.size);
    entries.push(entry);
    pending = undefined;
    offset = dataOffset + paddedSize(entry.size);
  }
}

/** End of file, or a zero block (the first of the two that end an archive). */
function isEndOfArchive(block: Buffer): boolean {
  return block.length === 0 || isZeroBlock(block);
}

function isMetadataHeader(typeFlag: string): boolean {
  return (
    typeFlag === TYPE_FLAG.paxExtended ||
    typeFlag === TYPE_FLAG.paxGlobal ||
    typeFlag === TYPE_FLAG.gnuLongName ||
    typeFlag === TYPE_FLAG.gnuLongLink
  );
}

/** Fold one metadata header into what is pending for the next entry. Global PAX headers are skipped. */
async function absorbMetadata(
  source: TarSource,
  header: RawTarHeader,
  where: HeaderLocation,
  pending: PendingMetadata | undefined,
): Promise<PendingMetadata | undefined> {
  if (header.typeFlag === TYPE_FLAG.paxGlobal) return pending;
  const payload = await readMetadataPayload(source, header, where);
  const next: PendingMetadata = pending ?? { offset: where.offset, pax: {} };
  if (header.typeFlag === TYPE_FLAG.paxExtended) {
    next.pax = parsePaxRecords(payload, where, next.pax);
  } else if (header.typeFlag === TYPE_FLAG.gnuLongName) {
    next.longName = parseGnuLongName(payload);
  } else {
    next.longLink = parseGnuLongName(payload);
  }
  return next;
}

async function readMetadataPayload(
  source: TarSource,
  header: RawTarHeader,
  where: HeaderLocation,
): Promise<Buffer> {
  if (header.size > MAX_METADATA_PAYLOAD_BYTES) {
    throw badHeader(
      where,
      `extended header of ${header.size} bytes exceeds the ${MAX_METADATA_PAYLOAD_BYTES}-byte limit`,
    );
  }
  const dataOffset = where.offset + BLOCK_SIZE;
  const payload = await source.readAt(dataOffset, header.size);
  if (payload.length < header.size) {
    throw truncatedData(source, header.name, dataOffset, header.size);
  }
  return payload;
}

/** The entry described by a header, with pending PAX/GNU overrides applied. */
function buildEntry(
  header: RawTarHeader,
  pending: PendingMetadata | undefined,
  dataOffset: number,
): TarEntry {
  const pax = pending?.pax ?? {};
  const rawName = pax.path ?? pending?.longName ?? header.name;
  const type = entryType(header.typeFlag, rawName, pax.sparse === true);
  const hasData = !HEADER_ONLY_TYPE_FLAGS.has(header.typeFlag);
  const entry: TarEntry = {
    name: normalizeTarName(rawName),
    type,
    size: hasData ? (pax.size ?? header.size) : 0,
    dataOffset,
    mode: header.mode,
    mtime: pax.mtime ?? header.mtime,
  };
  const linkName = linkNameFor(type, pax.linkpath ?? pending?.longLink ?? header.linkName);
  if (linkName !== undefined) entry.linkName = linkName;
  return Object.freeze(entry);
}

function entryType(typeFlag: string, rawName: string, sparse: boolean): TarEntryType {
  if (sparse) return "other";
  switch (typeFlag) {
    case "0":
    case "\0":
    case "7":
      return rawName.endsWith("/") ? "directory" : "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "5":
    case "D":
      return "directory";
    default:
      return "other";
  }
}

/** Hardlink targets are member names (normalized); symlink targets are paths (kept as recorded). */
function linkNameFor(type: TarEntryType, rawLink: string): string | undefined {
  if (type === "hardlink") return normalizeTarName(rawLink);
  if (type === "symlink") return rawLink;
  return undefined;
}

function ensureDataFits(source: TarSource, name: string, dataOffset: number, size: number): void {
  if (dataOffset + size > source.size) throw truncatedData(source, name, dataOffset, size);
}

function truncatedData(source: TarSource, name: string, dataOffset: number, size: number) {
  return new FerryError(
    "EBADIMAGE",
    `${source.path}: the tar is truncated: entry "${name}" needs ${size} bytes at byte offset ${dataOffset}, but the file ends at ${source.size}`,
    {
      hint: "the archive was cut short (an interrupted download or copy?); copy it again",
      details: { archive: source.path, entry: name, offset: dataOffset, size },
    },
  );
}

function shortBlock(source: TarSource, offset: number, block: Buffer) {
  if (offset > 0) return truncatedHeader(source, offset);
  return new FerryError(
    "EBADIMAGE",
    `${source.path}: not a tar archive (${source.size} bytes, less than one header)`,
    { hint: notATarHint(block), details: { archive: source.path } },
  );
}

function truncatedHeader(source: TarSource, offset: number) {
  return new FerryError(
    "EBADIMAGE",
    `${source.path}: the tar is truncated: partial header at byte offset ${offset}, the file ends at ${source.size}`,
    {
      hint: "the archive was cut short (an interrupted download or copy?); copy it again",
      details: { archive: source.path, offset },
    },
  );
}

function metadataWithoutEntry(source: TarSource, pending: PendingMetadata) {
  return new FerryError(
    "EBADIMAGE",
    `${source.path}: the tar is truncated: the extended header at byte offset ${pending.offset} is not followed by an entry`,
    { details: { archive: source.path, offset: pending.offset } },
  );
}

/**
 * Lexically normalize a member name: strip "./", collapse "//", drop "." segments, resolve
 * "x/.." pairs and drop a trailing "/". The root is ".". Names that stay absolute ("/etc")
 * or climb out of the root ("../x") are kept as such; see `isContainedName`.
 */
export function normalizeTarName(raw: string): string {
  const absolute = raw.startsWith("/");
  const segments: string[] = [];
  for (const segment of raw.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (segments.length > 0 && segments[segments.length - 1] !== "..") {
        segments.pop();
        continue;
      }
      if (absolute) continue;
    }
    segments.push(segment);
  }
  const joined = segments.join("/");
  if (absolute) return `/${joined}`;
  return joined === "" ? "." : joined;
}

/** True for a normalized name that stays inside the archive root (neither absolute nor "../"). */
export function isContainedName(name: string): boolean {
  return !name.startsWith("/") && name !== ".." && !name.startsWith("../");
}

/**
 * Lookup over scanned entries. Later entries with the same name replace earlier ones;
 * absolute and escaping names are never matched.
 */
export class TarIndex {
  readonly entries: readonly TarEntry[];
  private readonly byName = new Map<string, TarEntry>();

  constructor(entries: readonly TarEntry[]) {
    this.entries = entries;
    for (const entry of entries) {
      if (isContainedName(entry.name)) this.byName.set(entry.name, entry);
    }
  }

  /**
   * The regular-file entry for a name, following symlinks (relative to the link's
   * directory) and hardlinks (member names) inside the archive, at most `MAX_LINK_HOPS`
   * links; undefined when absent, not a file, a loop, or a link leaving the archive.
   */
  find(name: string): TarEntry | undefined {
    const key = normalizeTarName(name);
    if (!isContainedName(key)) return undefined;
    const direct = this.byName.get(key);
    if (direct?.type === "file") return direct;
    const resolved = this.resolveLinks(key);
    if (resolved === undefined) return undefined;
    const entry = this.byName.get(resolved);
    return entry?.type === "file" ? entry : undefined;
  }

  /** Walk a path segment by segment, replacing each link met by its target. */
  private resolveLinks(name: string): string | undefined {
    const pending = name.split("/").reverse();
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const segment = pending.pop() as string;
      if (segment === "" || segment === ".") continue;
      if (segment === "..") {
        if (resolved.length === 0) return undefined;
        resolved.pop();
        continue;
      }
      resolved.push(segment);
      const entry = this.byName.get(resolved.join("/"));
      if (entry?.type !== "symlink" && entry?.type !== "hardlink") continue;
      hops += 1;
      const target = entry.linkName ?? "";
      if (hops > MAX_LINK_HOPS || target.startsWith("/")) return undefined;
      resolved.pop();
      if (entry.type === "hardlink") resolved.length = 0;
      pending.push(...target.split("/").reverse());
    }
    return resolved.join("/");
  }
}
