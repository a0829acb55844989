/**
 * Read WIM files from disk: the header, the XML data, the parts of a split set,
 * and the WIM files of a folder (for `ferry search DIR`).
 */

import type { Dirent } from "node:fs";
import { type FileHandle, readdir, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { FerryError, fromSystemError } from "../../errors.js";
import type { WimHeader, WimInfo } from "../../types/wim.js";
import { bytesAt, handleReads } from "../../util/positional-read.js";
import { type FileRules, NotRegularFileError, openRegularFile } from "../../util/safe-open.js";
import { parseWimHeader, WIM_HEADER_SIZE } from "./header.js";
import { parseWimXml } from "./xml-info.js";

/** XML data larger than this is refused: real WIMs carry a few kilobytes. */
export const MAX_WIM_XML_BYTES = 16 * 1024 * 1024;

const COPY_PARTS_HINT =
  "copy all the .swm parts next to each other, with the names wimsplit gave them";

/** One part of a split WIM set, present or not. */
export interface WimSplitPart {
  partNumber: number;
  path: string;
  /** The file exists and its header says it is this part of this set. */
  present: boolean;
  /** Why the part cannot be used, when it is not present. */
  problem?: string;
}

/** The parts a split WIM set is made of, as found next to one of them. */
export interface WimSplitSet {
  /** The set's GUID (shared by every part). */
  guid: string;
  totalParts: number;
  /** Every part, in part order. */
  parts: WimSplitPart[];
  /** The file names (without folder) of the parts that are missing or unusable. */
  missing: string[];
}

/** A WIM file found by `findWimFiles`, with what could be read from it or why not. */
export type WimFileEntry =
  | { path: string; size: number; info: WimInfo; error?: undefined }
  | { path: string; size: number; error: FerryError; info?: undefined };

/** Options of `findWimFiles`. */
export interface FindWimFilesOptions {
  /** Also look in sub-folders (symbolic links to folders are not followed). */
  recursive?: boolean;
}

/** How a path that is not a WIM file at all (a FIFO, a folder, a device) is refused. */
export const WIM_FILE_RULES: FileRules = {
  code: "EBADWIM",
  followLinks: true,
  hint: "give the path of a .wim file",
};

/**
 * Open a WIM file (a link to one is fine). A FIFO, socket, device or folder is refused without
 * waiting: the open does not block on a FIFO that has no writer.
 */
export async function openWimFile(path: string): Promise<FileHandle> {
  return (await openRegularFile(path, WIM_FILE_RULES)).handle;
}

async function readAt(
  handle: FileHandle,
  path: string,
  offset: number,
  length: number,
): Promise<Buffer> {
  try {
    return await bytesAt(handleReads(handle), offset, length);
  } catch (error) {
    throw fromSystemError(error, path, "read");
  }
}

async function fileSizeOf(handle: FileHandle, path: string): Promise<number> {
  try {
    return (await handle.stat()).size;
  } catch (error) {
    throw fromSystemError(error, path, "stat");
  }
}

/** Read and parse just the header of the WIM at `path`; also returns the file size. */
export async function readWimHeader(path: string): Promise<{ header: WimHeader; size: number }> {
  const handle = await openWimFile(path);
  try {
    const size = await fileSizeOf(handle, path);
    const bytes = await readAt(handle, path, 0, WIM_HEADER_SIZE);
    return { header: parseWimHeader(bytes, size, path), size };
  } finally {
    await handle.close();
  }
}

function checkXmlResource(header: WimHeader, path: string): void {
  const xml = header.xmlData;
  if (xml.sizeInWim === 0) {
    throw new FerryError("EBADWIM", `${path}: the WIM has no XML data`, {
      hint: "the file is damaged or is not a WIM; copy it again from its source",
    });
  }
  if (xml.compressed) {
    throw new FerryError("EBADWIM", `${path}: compressed XML resource is not supported`, {
      hint: "rewrite the WIM with `wimlib-imagex optimize FILE`, which stores the XML uncompressed",
    });
  }
  if (xml.sizeInWim !== xml.originalSize) {
    throw new FerryError(
      "EBADWIM",
      `${path}: the XML data is stored uncompressed but its sizes differ (${xml.sizeInWim} in the file, ${xml.originalSize} original)`,
      { hint: "the file is damaged; copy it again from its source" },
    );
  }
  if (xml.sizeInWim > MAX_WIM_XML_BYTES) {
    throw new FerryError(
      "EBADWIM",
      `${path}: the XML data is ${xml.sizeInWim} bytes, more than the ${MAX_WIM_XML_BYTES} ferry accepts`,
      { hint: "is this a .wim file?" },
    );
  }
}

function checkImageCount(header: WimHeader, xmlImages: number, path: string): void {
  if (header.imageCount === xmlImages) return;
  throw new FerryError(
    "EBADWIM",
    `${path}: the header counts ${header.imageCount} image(s) but the XML data describes ${xmlImages}`,
    { hint: "the file is damaged; copy it again from its source" },
  );
}

/**
 * The file name of part `partNumber` of a split set, the way wimsplit names them:
 * part 1 is `NAME.swm`, later parts `NAME2.swm`, `NAME3.swm`, ...
 */
export function splitPartFileName(firstPartName: string, partNumber: number): string {
  if (partNumber === 1) return firstPartName;
  const extension = extname(firstPartName);
  const stem = firstPartName.slice(0, firstPartName.length - extension.length);
  return `${stem}${partNumber}${extension}`;
}

/** The file name of part 1, derived from the name of part `partNumber` (undefined if it cannot be). */
export function firstPartFileName(partName: string, partNumber: number): string | undefined {
  if (partNumber === 1) return partName;
  const extension = extname(partName);
  const stem = partName.slice(0, partName.length - extension.length);
  const suffix = String(partNumber);
  if (!stem.endsWith(suffix) || stem.length === suffix.length) return undefined;
  return `${stem.slice(0, stem.length - suffix.length)}${extension}`;
}

async function inspectPart(
  path: string,
  partNumber: number,
  set: { guid: string; totalParts: number },
): Promise<WimSplitPart> {
  let header: WimHeader;
  try {
    header = (await readWimHeader(path)).header;
  } catch (error) {
    const missing = error instanceof FerryError && error.code === "ENOTFOUND";
    const problem = missing ? "missing" : error instanceof Error ? error.message : String(error);
    return { partNumber, path, present: false, problem };
  }
  if (header.guid !== set.guid || header.totalParts !== set.totalParts) {
    return { partNumber, path, present: false, problem: "belongs to another split set" };
  }
  if (header.partNumber !== partNumber) {
    const problem = `is part ${header.partNumber}, not part ${partNumber}`;
    return { partNumber, path, present: false, problem };
  }
  return { partNumber, path, present: true };
}

async function splitSetFromHeader(path: string, header: WimHeader): Promise<WimSplitSet> {
  const set = { guid: header.guid, totalParts: header.totalParts };
  const firstName = firstPartFileName(basename(path), header.partNumber);
  if (firstName === undefined) {
    throw new FerryError(
      "EBADWIM",
      `${path}: part ${header.partNumber} of a ${header.totalParts}-part split WIM, but its file name does not end in ${header.partNumber} as wimsplit names parts, so the other parts cannot be found`,
      { hint: "give the first part (NAME.swm) with its parts NAME2.swm ... next to it" },
    );
  }
  const folder = dirname(path);
  const parts: WimSplitPart[] = [];
  for (let partNumber = 1; partNumber <= header.totalParts; partNumber++) {
    const partPath = join(folder, splitPartFileName(firstName, partNumber));
    parts.push(
      partNumber === header.partNumber
        ? { partNumber, path, present: true }
        : await inspectPart(partPath, partNumber, set),
    );
  }
  const missing = parts.filter((part) => !part.present).map((part) => basename(part.path));
  return { ...set, parts, missing };
}

/**
 * Find the parts of the split WIM set that the file at `path` belongs to, next to it,
 * named as wimsplit names them (NAME.swm, NAME2.swm, NAME3.swm, ...). A part whose
 * header carries another GUID or part number counts as missing. A whole (unsplit)
 * WIM is a set of one part.
 */
export async function findSplitParts(path: string): Promise<WimSplitSet> {
  const { header } = await readWimHeader(path);
  return splitSetFromHeader(path, header);
}

function describeMissingParts(set: WimSplitSet): string {
  return set.parts
    .filter((part) => !part.present)
    .map((part) => `${basename(part.path)} (${part.problem ?? "missing"})`)
    .join(", ");
}

async function partPathsOf(path: string, header: WimHeader): Promise<string[]> {
  if (header.totalParts === 1) return [path];
  const set = await splitSetFromHeader(path, header);
  if (set.missing.length > 0) {
    throw new FerryError(
      "EBADWIM",
      `${path}: part ${header.partNumber} of a ${header.totalParts}-part split WIM; missing or unusable: ${describeMissingParts(set)}`,
      { hint: COPY_PARTS_HINT, details: { missing: set.missing } },
    );
  }
  return set.parts.map((part) => part.path);
}

/**
 * Read what a WIM file says about itself: the header and the per-image XML data.
 * For a part of a split set, every other part must lie next to it.
 *
 * @throws FerryError EBADWIM when the file is not a WIM, is truncated or damaged, has a
 *   compressed XML resource, or is a split part whose sibling parts are missing;
 *   ENOTFOUND / EIO (via fromSystemError) when the file cannot be read
 */
export async function readWimInfo(path: string): Promise<WimInfo> {
  const handle = await openWimFile(path);
  let header: WimHeader;
  let size: number;
  let xmlBytes: Buffer;
  try {
    size = await fileSizeOf(handle, path);
    header = parseWimHeader(await readAt(handle, path, 0, WIM_HEADER_SIZE), size, path);
    checkXmlResource(header, path);
    xmlBytes = await readAt(handle, path, header.xmlData.offset, header.xmlData.sizeInWim);
  } finally {
    await handle.close();
  }
  const xml = parseWimXml(xmlBytes, path);
  checkImageCount(header, xml.images.length, path);
  const partPaths = await partPathsOf(path, header);
  return {
    path,
    size,
    header,
    images: xml.images,
    ...(xml.totalBytes === undefined ? {} : { totalBytes: xml.totalBytes }),
    compression: header.compression,
    hasIntegrityTable: header.integrityTable.sizeInWim > 0,
    partNumber: header.partNumber,
    totalParts: header.totalParts,
    bootIndex: header.bootIndex,
    partPaths,
  };
}

function isWimFileName(name: string): boolean {
  return /\.(wim|swm)$/i.test(name);
}

/** What a folder listing found: WIM file names to read, and ones that are not files at all. */
interface WimListing {
  paths: string[];
  /** FIFOs, sockets, devices named like a WIM: never opened (a FIFO would block the listing). */
  skipped: Array<{ path: string; kind: string }>;
}

function kindOfEntry(entry: Dirent): string {
  if (entry.isFIFO()) return "a FIFO (named pipe)";
  if (entry.isSocket()) return "a socket";
  if (entry.isBlockDevice() || entry.isCharacterDevice()) return "a device";
  return "not a regular file";
}

async function listWimPaths(dir: string, recursive: boolean, into: WimListing): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw fromSystemError(error, dir, "list");
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) await listWimPaths(path, true, into);
    } else if (!isWimFileName(entry.name)) {
      // not a WIM's name
    } else if (entry.isFile() || entry.isSymbolicLink()) {
      // A link is opened (following it) like any WIM path: a FIFO behind it is refused there.
      into.paths.push(path);
    } else {
      into.skipped.push({ path, kind: kindOfEntry(entry) });
    }
  }
}

function asFerryError(error: unknown, path: string): FerryError {
  return fromSystemError(error, path, "read");
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** True for part 2, 3, ... of a split set whose first part is also being listed. */
async function isListedThroughFirstPart(path: string, listed: Set<string>): Promise<boolean> {
  if (!/\.swm$/i.test(path)) return false;
  let header: WimHeader;
  try {
    header = (await readWimHeader(path)).header;
  } catch {
    return false;
  }
  const firstName = firstPartFileName(basename(path), header.partNumber);
  if (header.partNumber === 1 || firstName === undefined) return false;
  return listed.has(join(dirname(path), firstName));
}

async function wimFileEntry(path: string): Promise<WimFileEntry> {
  const size = await sizeOf(path);
  try {
    return { path, size, info: await readWimInfo(path) };
  } catch (error) {
    return { path, size, error: asFerryError(error, path) };
  }
}

/**
 * The .wim and .swm files in `dir`, sorted by path, each with its size and either its
 * WimInfo or the error that reading it gave. A split set is listed once, through its
 * first part. A bad file is listed with its error; it does not stop the listing. A FIFO,
 * socket or device named like a WIM is listed with an error without being opened.
 *
 * @throws FerryError when `dir` itself (or a sub-folder, with `recursive`) cannot be listed
 */
export async function findWimFiles(
  dir: string,
  options: FindWimFilesOptions = {},
): Promise<WimFileEntry[]> {
  const listing: WimListing = { paths: [], skipped: [] };
  await listWimPaths(dir, options.recursive ?? false, listing);
  const listed = new Set(listing.paths);
  const entries: WimFileEntry[] = [];
  for (const path of listing.paths) {
    if (await isListedThroughFirstPart(path, listed)) continue;
    entries.push(await wimFileEntry(path));
  }
  for (const { path, kind } of listing.skipped) {
    const error = new NotRegularFileError(path, kind, {
      ...WIM_FILE_RULES,
      hint: "skipped: only regular files are read",
    });
    entries.push({ path, size: 0, error });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
