import { describe, expect, it } from "vitest";
import {
  BLOCK_SIZE,
  parseBase256,
  parseGnuLongName,
  parseHeaderBlock,
  parseOctal,
  parsePaxRecords,
} from "../../../src/transports/tar/tar-header.js";

const where = { archivePath: "/images/a.tar", offset: 1024 };

interface HeaderFields {
  name: string;
  size?: number;
  typeFlag?: string;
  linkName?: string;
  magic?: "ustar" | "gnu" | "v7";
  prefix?: string;
  base256Size?: bigint;
}

/** A header block written the way tar writers do, with a valid checksum. */
function headerBlock(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  block.write(fields.name, 0, 100, "utf8");
  block.write("0000644\0", 100, "latin1");
  block.write(`${(fields.size ?? 0).toString(8).padStart(11, "0")}\0`, 124, "latin1");
  block.write("14712345670\0", 136, "latin1");
  block.write(fields.typeFlag ?? "0", 156, "latin1");
  block.write(fields.linkName ?? "", 157, 100, "utf8");
  if (fields.magic !== "v7") {
    block.write(fields.magic === "gnu" ? "ustar  \0" : "ustar\u000000", 257, "latin1");
  }
  if (fields.prefix) block.write(fields.prefix, 345, 155, "utf8");
  if (fields.base256Size !== undefined) writeBase256(block, 124, 12, fields.base256Size);
  return withChecksum(block);
}

function writeBase256(block: Buffer, offset: number, length: number, value: bigint): void {
  let rest = value;
  for (let i = length - 1; i >= 1; i--) {
    block[offset + i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = 0x80;
}

function withChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

function paxPayload(records: Record<string, string>): Buffer {
  const lines = Object.entries(records).map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
    return `${length}${body}`;
  });
  return Buffer.from(lines.join(""), "utf8");
}

describe("parseHeaderBlock", () => {
  it("decodes a ustar header and joins the prefix", () => {
    const header = parseHeaderBlock(
      headerBlock({ name: "layer.tar", size: 1234, prefix: "blobs/sha256/dir" }),
      where,
    );
    expect(header).toMatchObject({
      name: "blobs/sha256/dir/layer.tar",
      size: 1234,
      mode: 0o644,
      mtime: 0o14712345670,
      typeFlag: "0",
    });
  });

  it("ignores the prefix area of GNU headers (it holds atime/ctime there)", () => {
    const block = headerBlock({ name: "a.txt", magic: "gnu", prefix: "garbage" });
    expect(parseHeaderBlock(block, where).name).toBe("a.txt");
  });

  it("reads v7 headers without magic", () => {
    const header = parseHeaderBlock(
      headerBlock({ name: "old", magic: "v7", typeFlag: "\0" }),
      where,
    );
    expect(header.typeFlag).toBe("\0");
    expect(header.name).toBe("old");
  });

  it("reads base-256 sizes beyond 8 GiB", () => {
    const nineGiB = 9n * 1024n ** 3n;
    const header = parseHeaderBlock(headerBlock({ name: "huge", base256Size: nineGiB }), where);
    expect(header.size).toBe(Number(nineGiB));
  });

  it("keeps link names", () => {
    const header = parseHeaderBlock(
      headerBlock({ name: "l", typeFlag: "2", linkName: "../target" }),
      where,
    );
    expect(header.linkName).toBe("../target");
  });

  it("rejects a bad checksum, naming the archive and the offset", () => {
    const block = headerBlock({ name: "manifest.json", size: 10 });
    block[0] = "n".charCodeAt(0);
    let error: unknown;
    try {
      parseHeaderBlock(block, where);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: "EBADIMAGE" });
    expect((error as Error).message).toContain("/images/a.tar");
    expect((error as Error).message).toContain("byte offset 1024");
    expect((error as Error).message).toContain("checksum");
  });

  it("rejects a non-octal size", () => {
    const block = headerBlock({ name: "x" });
    block.write("12345678z01\0", 124, "latin1");
    expect(() => parseHeaderBlock(withChecksum(block), where)).toThrow(/invalid size/);
  });

  it("hints at compression when the first block is gzip data", () => {
    const block = Buffer.alloc(BLOCK_SIZE, 7);
    block[0] = 0x1f;
    block[1] = 0x8b;
    expect(() => parseHeaderBlock(block, { archivePath: "x.tar", offset: 0 })).toThrow(
      expect.objectContaining({ code: "EBADIMAGE", hint: expect.stringContaining("gzip") }),
    );
  });
});

describe("numeric fields", () => {
  it("parses octal with spaces and NULs around it", () => {
    expect(parseOctal(Buffer.from("   644 \0", "latin1"))).toBe(0o644);
    expect(parseOctal(Buffer.from("\0\0\0\0", "latin1"))).toBe(0);
    expect(parseOctal(Buffer.from("12 34\0", "latin1"))).toBeUndefined();
  });

  it("parses positive and negative base-256", () => {
    expect(parseBase256(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0]))).toBe(2 ** 33);
    expect(parseBase256(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]))).toBe(-2);
    expect(parseBase256(Buffer.from([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(
      undefined,
    );
  });
});

describe("PAX records", () => {
  it("reads path, linkpath, size and mtime; ignores other keys", () => {
    const payload = paxPayload({
      path: "a/very/long/näme",
      linkpath: "target",
      size: "9663676416",
      mtime: "1700000000.25",
      "SCHILY.xattr.user.x": "y",
    });
    expect(parsePaxRecords(payload, where)).toEqual({
      path: "a/very/long/näme",
      linkpath: "target",
      size: 9663676416,
      mtime: 1700000000,
    });
  });

  it("merges over earlier records; an empty value removes an override", () => {
    const first = parsePaxRecords(paxPayload({ path: "x", size: "3" }), where);
    expect(parsePaxRecords(paxPayload({ path: "" }), where, first)).toEqual({ size: 3 });
  });

  it("marks GNU sparse entries", () => {
    expect(parsePaxRecords(paxPayload({ "GNU.sparse.major": "1" }), where).sparse).toBe(true);
  });

  it("rejects malformed records", () => {
    expect(() => parsePaxRecords(Buffer.from("99 path=x\n"), where)).toThrow(/malformed PAX/);
    expect(() => parsePaxRecords(Buffer.from("abc"), where)).toThrow(/malformed PAX/);
    expect(() => parsePaxRecords(paxPayload({ size: "-1" }), where)).toThrow(/invalid PAX size/);
  });

  it("reads GNU long names up to the NUL", () => {
    expect(parseGnuLongName(Buffer.from("long/name\0\0\0"))).toBe("long/name");
  });
});
