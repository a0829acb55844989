/**
 * Parse the XML data of a WIM (UTF-16LE with a BOM) into per-image facts.
 *
 * The XML is small and simple, so a strict hand-written parser is used: elements,
 * attributes, text, the five named entities and numeric character references,
 * comments, processing instructions and CDATA. DOCTYPE declarations are refused
 * (no entity expansion). Elements are looked up by name, never by position.
 *
 * Fields that name an image (INDEX, WINDOWS/ARCH, WINDOWS/VERSION/*) are checked
 * strictly; informational fields (sizes, counts, times) that do not parse are
 * left undefined.
 */

import { FerryError } from "../../errors.js";
import { WIM_ARCHITECTURES, type WimImageInfo, type WimXmlInfo } from "../../types/wim.js";

/** One element of a parsed XML document. */
export interface XmlElement {
  name: string;
  attributes: Map<string, string>;
  children: XmlElement[];
  /** The element's own text (CDATA included), concatenated, entities decoded. */
  text: string;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

const NAME_PATTERN = /[A-Za-z_:][A-Za-z0-9_:.-]*/y;
const MAX_DEPTH = 64;

function badXml(source: string, problem: string): FerryError {
  return new FerryError("EBADWIM", `${source}: the WIM's XML data does not parse: ${problem}`, {
    hint: "the file is damaged or is not a WIM; copy it again from its source",
  });
}

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

/** Replace entity and character references in `raw`. */
export function decodeXmlEntities(raw: string, source: string): string {
  return raw.replace(/&([^;&<>\s]*);?/g, (match, body: string) => {
    if (!match.endsWith(";")) throw badXml(source, `unterminated entity "${match}"`);
    const named = NAMED_ENTITIES[body];
    if (named !== undefined) return named;
    const code = parseCharacterReference(body);
    if (code === undefined) throw badXml(source, `unknown entity "&${body};"`);
    return String.fromCodePoint(code);
  });
}

function parseCharacterReference(body: string): number | undefined {
  const digits = /^#x([0-9a-fA-F]{1,6})$/.exec(body)?.[1];
  const decimal = /^#([0-9]{1,7})$/.exec(body)?.[1];
  const code =
    digits !== undefined
      ? Number.parseInt(digits, 16)
      : decimal !== undefined
        ? Number(decimal)
        : undefined;
  if (code === undefined || code === 0 || code > 0x10ffff) return undefined;
  if (code >= 0xd800 && code <= 0xdfff) return undefined;
  return code;
}

/** A cursor over the XML text that builds the element tree. */
class XmlParser {
  private position = 0;
  private readonly stack: XmlElement[] = [];
  private root: XmlElement | undefined;

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  parse(): XmlElement {
    while (this.position < this.text.length) {
      if (this.text.startsWith("<", this.position)) this.parseMarkup();
      else this.parseText();
    }
    const open = this.stack.at(-1);
    if (open) throw this.fail(`element <${open.name}> is never closed`);
    if (!this.root) throw this.fail("there is no root element");
    return this.root;
  }

  private fail(problem: string, at = this.position): FerryError {
    return badXml(this.source, `${problem} (at character ${at})`);
  }

  private parseMarkup(): void {
    const rest = (prefix: string) => this.text.startsWith(prefix, this.position);
    if (rest("<?")) this.skipPast("?>", "processing instruction");
    else if (rest("<!--")) this.skipPast("-->", "comment");
    else if (rest("<![CDATA[")) this.parseCdata();
    else if (rest("<!")) throw this.fail("DOCTYPE and other declarations are not allowed");
    else if (rest("</")) this.parseEndTag();
    else this.parseStartTag();
  }

  private skipPast(terminator: string, what: string): string {
    const end = this.text.indexOf(terminator, this.position);
    if (end < 0) throw this.fail(`unterminated ${what}`);
    const skipped = this.text.slice(this.position, end);
    this.position = end + terminator.length;
    return skipped;
  }

  private parseCdata(): void {
    const at = this.position;
    const content = this.skipPast("]]>", "CDATA section").slice("<![CDATA[".length);
    this.appendText(content, at);
  }

  private parseText(): void {
    const at = this.position;
    const end = this.text.indexOf("<", this.position);
    const stop = end < 0 ? this.text.length : end;
    const raw = this.text.slice(this.position, stop);
    this.position = stop;
    this.appendText(decodeXmlEntities(raw, this.source), at);
  }

  private appendText(text: string, at: number): void {
    const current = this.stack.at(-1);
    if (current) current.text += text;
    else if (text.trim() !== "") throw this.fail("text outside the root element", at);
  }

  private readName(): string {
    NAME_PATTERN.lastIndex = this.position;
    const match = NAME_PATTERN.exec(this.text);
    if (!match) throw this.fail("expected an element or attribute name");
    this.position += match[0].length;
    return match[0];
  }

  private skipWhitespace(): void {
    while (/\s/.test(this.text[this.position] ?? "")) this.position++;
  }

  private parseEndTag(): void {
    const at = this.position;
    this.position += 2;
    const name = this.readName();
    this.skipWhitespace();
    if (this.text[this.position] !== ">") throw this.fail(`malformed end tag </${name}`);
    this.position++;
    const open = this.stack.pop();
    if (!open) throw this.fail(`end tag </${name}> without a start tag`, at);
    if (open.name !== name) {
      throw this.fail(`end tag </${name}> does not match <${open.name}>`, at);
    }
  }

  private parseStartTag(): void {
    const at = this.position;
    this.position++;
    const element: XmlElement = {
      name: this.readName(),
      attributes: new Map(),
      children: [],
      text: "",
    };
    const selfClosing = this.parseAttributes(element);
    this.attach(element, at);
    if (!selfClosing) this.stack.push(element);
  }

  /** Read attributes up to `>` or `/>`; returns true for a self-closing tag. */
  private parseAttributes(element: XmlElement): boolean {
    for (;;) {
      const before = this.position;
      this.skipWhitespace();
      if (this.text.startsWith("/>", this.position)) {
        this.position += 2;
        return true;
      }
      if (this.text[this.position] === ">") {
        this.position++;
        return false;
      }
      if (this.position >= this.text.length) throw this.fail(`unterminated tag <${element.name}`);
      if (this.position === before) throw this.fail(`expected white space in <${element.name}`);
      this.parseAttribute(element);
    }
  }

  private parseAttribute(element: XmlElement): void {
    const name = this.readName();
    this.skipWhitespace();
    if (this.text[this.position] !== "=") throw this.fail(`attribute ${name} has no value`);
    this.position++;
    this.skipWhitespace();
    const quote = this.text[this.position];
    if (quote !== '"' && quote !== "'") throw this.fail(`attribute ${name} is not quoted`);
    const end = this.text.indexOf(quote, this.position + 1);
    if (end < 0) throw this.fail(`unterminated value of attribute ${name}`);
    const raw = this.text.slice(this.position + 1, end);
    if (raw.includes("<")) throw this.fail(`"<" in the value of attribute ${name}`);
    if (element.attributes.has(name)) throw this.fail(`duplicate attribute ${name}`);
    element.attributes.set(name, decodeXmlEntities(raw, this.source));
    this.position = end + 1;
  }

  private attach(element: XmlElement, at: number): void {
    const parent = this.stack.at(-1);
    if (parent) {
      if (this.stack.length >= MAX_DEPTH) throw this.fail("elements are nested too deeply", at);
      parent.children.push(element);
      return;
    }
    if (this.root) throw this.fail(`a second root element <${element.name}>`, at);
    this.root = element;
  }
}

/** Parse XML text into its root element; throws FerryError EBADWIM naming `source`. */
export function parseXmlDocument(text: string, source: string): XmlElement {
  return new XmlParser(text, source).parse();
}

/** The first descendant reached by following child element names, or undefined. */
export function findElement(element: XmlElement, ...path: string[]): XmlElement | undefined {
  let current: XmlElement | undefined = element;
  for (const name of path) {
    current = current?.children.find((child) => child.name === name);
  }
  return current;
}

/** The trimmed text of the element at `path`, or undefined when it is absent. */
export function elementText(element: XmlElement, ...path: string[]): string | undefined {
  return findElement(element, ...path)?.text.trim();
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
