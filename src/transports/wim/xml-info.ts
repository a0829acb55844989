/**
 * Parse the XML data of a WIM (UTF-16LE with a BOM) into per-image facts; the XML itself is
 * parsed by xml-parser.ts.
 *
 * Fields that name an image (INDEX, WINDOWS/ARCH, WINDOWS/VERSION/*) are checked
 * strictly; informational fields (sizes, counts, times) that do not parse are
 * left undefined.
 */

import { FerryError } from "../../errors.js";
import { WIM_ARCHITECTURES, type WimImageInfo, type WimXmlInfo } from "../../types/wim.js";
import { badXml, elementText, parseXmlDocument, type XmlElement } from "./xml-parser.js";

/**
 * Decode the XML resource bytes: UTF-16LE, an optional byte-order mark, and no
 * unpaired surrogates or NUL characters.
 */
export function decodeWimXml(bytes: Uint8Array, source: string): string {
  if (bytes.length % 2 !== 0) {
    throw badXml(source, `odd number of bytes (${bytes.length}) for UTF-16LE text`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-16le", { fatal: true }).decode(bytes);
  } catch {
    throw badXml(source, "the bytes are not valid UTF-16LE");
  }
  if (text.includes("\u0000")) throw badXml(source, "the text contains NUL characters");
  return text;
}

function parseDecimal(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]{1,16}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A decimal field that names the image: absent is fine, garbage is an error. */
function strictDecimal(
  image: XmlElement,
  path: string[],
  label: string,
  source: string,
): number | undefined {
  const text = elementText(image, ...path);
  if (text === undefined) return undefined;
  const value = parseDecimal(text);
  if (value === undefined) {
    throw new FerryError(
      "EBADWIM",
      `${source}: ${label} ${path.join("/")} is not a whole number ("${text}")`,
      { hint: "the WIM's XML data is damaged; copy it again from its source" },
    );
  }
  return value;
}

function parseHexWord(text: string | undefined): bigint | undefined {
  if (text === undefined || !/^(0[xX])?[0-9a-fA-F]{1,8}$/.test(text)) return undefined;
  return BigInt(text.toLowerCase().startsWith("0x") ? text : `0x${text}`);
}

const FILETIME_TICKS_PER_MS = 10_000n;
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

/** A FILETIME (100 ns ticks since 1601-01-01) given as HIGHPART/LOWPART hex words, as ISO-8601. */
export function filetimeToIso(highPart: string, lowPart: string): string | undefined {
  const high = parseHexWord(highPart);
  const low = parseHexWord(lowPart);
  if (high === undefined || low === undefined) return undefined;
  const ticks = (high << 32n) | low;
  const ms = ticks / FILETIME_TICKS_PER_MS - FILETIME_EPOCH_OFFSET_MS;
  const date = new Date(Number(ms));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function timeField(image: XmlElement, name: string): string | undefined {
  const high = elementText(image, name, "HIGHPART");
  const low = elementText(image, name, "LOWPART");
  if (high === undefined || low === undefined) return undefined;
  return filetimeToIso(high, low);
}

const VERSION_PARTS = ["MAJOR", "MINOR", "BUILD", "SPBUILD"] as const;

/** The version (absent parts as 0) and which parts were absent; undefined without MAJOR. */
function versionField(
  image: XmlElement,
  label: string,
  source: string,
): { version: string; missing: string[] } | undefined {
  if (elementText(image, "WINDOWS", "VERSION", "MAJOR") === undefined) return undefined;
  const parts = VERSION_PARTS.map((name) =>
    strictDecimal(image, ["WINDOWS", "VERSION", name], label, source),
  );
  return {
    version: parts.map((part) => part ?? 0).join("."),
    missing: VERSION_PARTS.filter((_, at) => parts[at] === undefined),
  };
}

function imageIndex(image: XmlElement, position: number, source: string): number {
  const raw = image.attributes.get("INDEX");
  if (raw === undefined) return position;
  const index = parseDecimal(raw.trim());
  if (index === undefined || index < 1) {
    throw new FerryError("EBADWIM", `${source}: image ${position} has a bad INDEX ("${raw}")`, {
      hint: "the WIM's XML data is damaged; copy it again from its source",
    });
  }
  return index;
}

function optional<T>(key: string, value: T | undefined): Record<string, T> {
  return value === undefined ? {} : { [key]: value };
}

/** Read one /WIM/IMAGE element into a WimImageInfo. */
export function imageInfoFromElement(
  image: XmlElement,
  position: number,
  source: string,
): WimImageInfo {
  const index = imageIndex(image, position, source);
  const label = `image ${index}:`;
  const archCode = strictDecimal(image, ["WINDOWS", "ARCH"], label, source);
  const text = (...path: string[]) => elementText(image, ...path);
  const count = (name: string) => parseDecimal(text(name));
  const version = versionField(image, label, source);
  return {
    index,
    ...optional("name", text("NAME")),
    ...optional("description", text("DESCRIPTION")),
    ...optional("displayName", text("DISPLAYNAME")),
    ...optional("displayDescription", text("DISPLAYDESCRIPTION")),
    ...optional("flags", text("FLAGS")),
    ...optional("architecture", archCode === undefined ? undefined : WIM_ARCHITECTURES[archCode]),
    ...optional("archCode", archCode),
    ...optional("version", version?.version),
    ...optional("versionPartsMissing", version?.missing.length ? version.missing : undefined),
    ...optional("productName", text("WINDOWS", "PRODUCTNAME")),
    ...optional("editionId", text("WINDOWS", "EDITIONID")),
    ...optional("installationType", text("WINDOWS", "INSTALLATIONTYPE")),
    ...optional("totalBytes", count("TOTALBYTES")),
    ...optional("dirCount", count("DIRCOUNT")),
    ...optional("fileCount", count("FILECOUNT")),
    ...optional("creationTime", timeField(image, "CREATIONTIME")),
    ...optional("lastModificationTime", timeField(image, "LASTMODIFICATIONTIME")),
  };
}

function checkUniqueIndexes(images: WimImageInfo[], source: string): void {
  const seen = new Set<number>();
  for (const image of images) {
    if (seen.has(image.index)) {
      throw new FerryError("EBADWIM", `${source}: two images have INDEX ${image.index}`, {
        hint: "the WIM's XML data is damaged; copy it again from its source",
      });
    }
    seen.add(image.index);
  }
}

/** Read the per-image facts from an already-decoded XML document. */
export function parseWimXmlText(text: string, source: string): WimXmlInfo {
  const root = parseXmlDocument(text, source);
  if (root.name !== "WIM") {
    throw badXml(source, `the root element is <${root.name}>, expected <WIM>`);
  }
  const images = root.children
    .filter((child) => child.name === "IMAGE")
    .map((image, i) => imageInfoFromElement(image, i + 1, source))
    .sort((a, b) => a.index - b.index);
  checkUniqueIndexes(images, source);
  return { images, ...optional("totalBytes", parseDecimal(elementText(root, "TOTALBYTES"))) };
}

/**
 * Parse the raw XML resource of a WIM (UTF-16LE bytes, usually with a BOM).
 *
 * @param bytes the XML resource exactly as stored in the file
 * @param source the file path that error messages name
 * @throws FerryError EBADWIM for bad UTF-16, malformed XML, a root other than <WIM>,
 *   or a bad INDEX / ARCH / VERSION value
 */
export function parseWimXml(bytes: Uint8Array, source: string): WimXmlInfo {
  return parseWimXmlText(decodeWimXml(bytes, source), source);
}
