import type { Readable } from "node:stream";
import yauzl from "yauzl";
import { BadBundleError, type BundleProblem } from "../../errors.js";
import { type RandomAccess, readAt } from "./random-access.js";
import {
  type CentralHeader,
  compareLocalToCentral,
  judgeCentralHeader,
  judgeEndRecords,
  parseCentralHeader,
  parseLocalHeader,
} from "./zip-strict.js";

/** One entry of a zip's central directory, with its data located and checked. */
export interface ZipEntry {
  name: string;
  size: number;
  compressedSize: number;
  /** 0 stored, 8 deflate. */
  method: number;
  crc32: number;
  localHeaderOffset: number;
  /** Where the entry's data begins (after its local header). */
  dataStart: number;
  isDirectory: boolean;
}

const MAX_ENTRIES = 1_000_000;
const MAX_DIRECTORY_BYTES = 256 * 1024 * 1024;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const UNIX_HOST = 3;

/** Adapts ferry's random access to yauzl's reader interface. */
class YauzlReader extends yauzl.RandomAccessReader {
  constructor(private readonly source: RandomAccess) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    return this.source.createReadStream(start, end);
  }
}

function decodeName(raw: Buffer): string | undefined {
  const text = raw.toString("utf8");
  return Buffer.from(text, "utf8").equals(raw) ? text : undefined;
}

/** Problems with one central-directory entry, judged on its own. */
function judgeEntry(entry: yauzl.Entry, name: string): string[] {
  const problems: string[] = [];
  const mode = entry.externalFileAttributes >>> 16;
  if (entry.versionMadeBy >> 8 === UNIX_HOST && (mode & S_IFMT) === S_IFLNK) {
    problems.push("is a symbolic link");
  }
  if (entry.generalPurposeBitFlag & 0x1) problems.push("is encrypted");
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    problems.push(
      `uses compression method ${entry.compressionMethod} (only stored and deflate are read)`,
    );
  }
  if (entry.compressionMethod === 0 && entry.compressedSize !== entry.uncompressedSize) {
    problems.push(
      `is stored but declares ${entry.compressedSize} bytes compressed and ${entry.uncompressedSize} uncompressed`,
    );
  }
  if (name.endsWith("/") && entry.uncompressedSize !== 0) problems.push("is a directory with data");
  return problems;
}

export interface ZipIndex {
  entries: Map<string, ZipEntry>;
  problems: BundleProblem[];
  /** Offset where the central directory starts (entry data must end before it). */
  centralDirectoryOffset: number;
}

async function readCentralDirectory(
  source: RandomAccess,
): Promise<{ centralDirectoryOffset: number; raw: yauzl.Entry[] }> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new YauzlReader(source), source.size, {
      lazyEntries: true,
      decodeStrings: false,
      validateEntrySizes: true,
      autoClose: false,
    });
  } catch (error) {
    throw new BadBundleError(
      `${source.label} is not a readable zip file: ${(error as Error).message}`,
      [],
      {
        hint: "the file may be truncated or not a ferry bundle: compare its size with the original and copy it again",
      },
    );
  }
  if (zip.entryCount > MAX_ENTRIES) {
    throw new BadBundleError(
      `${source.label} declares ${zip.entryCount} entries, more than ${MAX_ENTRIES}`,
    );
  }
  const centralDirectoryOffset = (zip as unknown as { readEntryCursor: number }).readEntryCursor;
  const raw: yauzl.Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) raw.push(entry);
  } catch (error) {
    throw new BadBundleError(
      `${source.label}: the zip central directory is damaged: ${(error as Error).message}`,
      [],
      {
        hint: "copy the bundle again from the original",
      },
    );
  }
  return { centralDirectoryOffset, raw };
}

/** Read the local header and check it repeats the central header exactly. */
async function locateData(
  source: RandomAccess,
  entry: yauzl.Entry,
  name: string,
  central: CentralHeader | undefined,
): Promise<number | string[]> {
  const header = await readAt(source, entry.relativeOffsetOfLocalHeader, 30);
  const local = parseLocalHeader(header);
  if (!local) return [`has no local header at offset ${entry.relativeOffsetOfLocalHeader}`];
  const localName = await readAt(source, entry.relativeOffsetOfLocalHeader + 30, local.nameLength);
  if (!localName.equals(entry.fileNameRaw as unknown as Buffer)) {
    return [
      `local header names ${JSON.stringify(localName.toString("utf8"))}, central directory ${JSON.stringify(name)}`,
    ];
  }
  if (local.method !== entry.compressionMethod) {
    return ["local header and central directory disagree on the compression method"];
  }
  const problems = central ? compareLocalToCentral(local, central) : [];
  if (problems.length > 0) return problems;
  return entry.relativeOffsetOfLocalHeader + 30 + local.nameLength + local.extraLength;
}

/** The raw central headers, in order, and what is wrong with the end records or the directory. */
async function readRawDirectory(
  source: RandomAccess,
): Promise<{ headers: CentralHeader[]; problems: string[] }> {
  const tailLength = Math.min(source.size, 98);
  const tailStart = source.size - tailLength;
  const records = judgeEndRecords(
    await readAt(source, tailStart, tailLength),
    tailStart,
    source.size,
  );
  if (!records) {
    return {
      headers: [],
      problems: [
        "the end of central directory record is not at the end of the file (trailing data or an archive comment)",
      ],
    };
  }
  const problems = [...records.problems];
  if (records.centralOffset + records.centralSize !== records.endStart) {
    problems.push("the central directory's declared size and offset do not meet the end records");
  }
  if (records.centralSize > MAX_DIRECTORY_BYTES) {
    problems.push(
      `the central directory declares ${records.centralSize} bytes, more than ${MAX_DIRECTORY_BYTES}`,
    );
    return { headers: [], problems };
  }
  const directory = await readAt(source, records.centralOffset, records.centralSize);
  const headers: CentralHeader[] = [];
  let at = 0;
  while (at < directory.length && headers.length <= records.entries) {
    const header = parseCentralHeader(directory, at);
    if (!header) break;
    headers.push(header);
    at += header.length;
  }
  if (headers.length !== records.entries || at !== records.centralSize) {
    problems.push(
      `the central directory holds ${headers.length} headers in ${at} bytes; the end records declare ${records.entries} in ${records.centralSize}`,
    );
  }
  return { headers, problems };
}

/**
 * Index a zip's entries without reading their data: every name is kept as raw bytes and
 * judged here (links, encryption, methods, duplicates, case collisions, overlapping data);
 * nothing is ever joined to a filesystem path. Problems are collected, not thrown, so a
 * verify can name them all; a zip whose central directory cannot be read throws.
 */
export async function indexZip(source: RandomAccess): Promise<ZipIndex> {
  const { centralDirectoryOffset, raw } = await readCentralDirectory(source);
  const directory = await readRawDirectory(source);
  const entries = new Map<string, ZipEntry>();
  const problems: BundleProblem[] = [];
  const folded = new Map<string, string>();
  const add = (subject: string, message: string): number =>
    problems.push({
      subject,
      code: "EBADBUNDLE",
      message: `entry ${JSON.stringify(subject)} ${message}`,
    });

  for (const message of directory.problems) {
    problems.push({
      subject: "end of central directory",
      code: "EBADBUNDLE",
      message: `zip structure: ${message}`,
    });
  }
  for (const [position, entry] of raw.entries()) {
    const central = directory.headers[position];
    const rawName = entry.fileNameRaw as unknown as Buffer;
    const name = decodeName(rawName);
    if (name === undefined) {
      add(rawName.toString("latin1"), "has a name that is not valid UTF-8");
      continue;
    }
    const own = [...judgeEntry(entry, name), ...(central ? judgeCentralHeader(central) : [])];
    for (const message of own) add(name, message);
    if (entries.has(name)) {
      add(name, "appears more than once");
      continue;
    }
    const lower = name.toLowerCase();
    const clash = folded.get(lower);
    if (clash !== undefined) add(name, `differs from ${JSON.stringify(clash)} only in case`);
    folded.set(lower, name);
    if (own.length > 0) continue;
    const located = await locateData(source, entry, name, central);
    if (typeof located !== "number") {
      for (const message of located) add(name, message);
      continue;
    }
    if (located + entry.compressedSize > centralDirectoryOffset) {
      add(name, "has data that runs past the end of the entries (truncated or malformed)");
      continue;
    }
    entries.set(name, {
      name,
      size: entry.uncompressedSize,
      compressedSize: entry.compressedSize,
      method: entry.compressionMethod,
      crc32: entry.crc32,
      localHeaderOffset: entry.relativeOffsetOfLocalHeader,
      dataStart: located,
      isDirectory: name.endsWith("/"),
    });
  }
  checkOverlaps([...entries.values()], add);
  return { entries, problems, centralDirectoryOffset };
}

/** Entries whose data overlaps another's are a zip-bomb trick (or damage). */
function checkOverlaps(entries: ZipEntry[], add: (subject: string, message: string) => void): void {
  const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as ZipEntry;
    const current = sorted[i] as ZipEntry;
    if (previous.dataStart + previous.compressedSize > current.localHeaderOffset) {
      add(current.name, `overlaps the data of ${JSON.stringify(previous.name)}`);
    }
  }
}
