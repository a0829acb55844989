/**
 * A strict hand-written parser for the small XML document a WIM carries: elements,
 * attributes, text, the five named entities and numeric character references, comments,
 * processing instructions and CDATA. DOCTYPE declarations are refused (no entity expansion).
 * Elements are looked up by name, never by position.
 */

import { FerryError } from "../../errors.js";

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

export function badXml(source: string, problem: string): FerryError {
  return new FerryError("EBADWIM", `${source}: the WIM's XML data does not parse: ${problem}`, {
    hint: "the file is damaged or is not a WIM; copy it again from its source",
  });
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
