import { readFile, stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseWimHeader,
  WIM_HEADER_SIZE,
  wimCompressionFromFlags,
  wimHeaderFlagNames,
} from "../../../src/transports/wim/header.js";
import { errorOfSync } from "../../helpers/errors.js";
import {
  makeSourceTree,
  makeTempDir,
  removeTempDir,
  type WimtoolsCompression,
  wimCapture,
  wiminfoHeader,
} from "../../helpers/wimtools.js";

interface SyntheticResource {
  size: number;
  flags?: number;
  offset: number;
  originalSize?: number;
}

function writeResource(bytes: Buffer, at: number, resource: SyntheticResource): void {
  bytes.writeUIntLE(resource.size, at, 6);
  bytes[at + 6] = 0;
  bytes[at + 7] = resource.flags ?? 0x02;
  bytes.writeBigUInt64LE(BigInt(resource.offset), at + 8);
  bytes.writeBigUInt64LE(BigInt(resource.originalSize ?? resource.size), at + 16);
}

/** A valid 208-byte header for a file of 1000 bytes, with the XML at 300..500. */
function syntheticHeader(
  overrides: { flags?: number; parts?: [number, number]; xml?: SyntheticResource } = {},
) {
  const bytes = Buffer.alloc(WIM_HEADER_SIZE);
  bytes.write("MSWIM\0\0\0", 0, "latin1");
  bytes.writeUInt32LE(WIM_HEADER_SIZE, 0x08);
  bytes.writeUInt32LE(0x10d00, 0x0c);
  bytes.writeUInt32LE(overrides.flags ?? 0x00040002, 0x10);
  bytes.writeUInt32LE(32768, 0x14);
  for (let i = 0; i < 16; i++) bytes[0x18 + i] = i;
  const [part, total] = overrides.parts ?? [1, 1];
  bytes.writeUInt16LE(part, 0x28);
  bytes.writeUInt16LE(total, 0x2a);
  bytes.writeUInt32LE(2, 0x2c);
  writeResource(bytes, 0x30, { size: 90, offset: 210 });
  writeResource(bytes, 0x48, overrides.xml ?? { size: 200, offset: 300 });
  bytes.writeUInt32LE(1, 0x78);
  writeResource(bytes, 0x7c, { size: 32, flags: 0, offset: 900 });
  return bytes;
}

describe("parseWimHeader (synthetic bytes)", () => {
  it("reads every field of a valid header", () => {
    const header = parseWimHeader(syntheticHeader(), 1000, "x.wim");
    expect(header).toMatchObject({
      headerSize: 208,
      version: 0x10d00,
      flags: 0x40002,
      flagNames: ["COMPRESSION", "COMPRESS_LZX"],
      compression: "lzx",
      chunkSize: 32768,
      guid: "000102030405060708090a0b0c0d0e0f",
      partNumber: 1,
      totalParts: 1,
      spanned: false,
      imageCount: 2,
      bootIndex: 1,
      xmlData: { sizeInWim: 200, flags: 2, offset: 300, originalSize: 200, compressed: false },
      integrityTable: { sizeInWim: 32, offset: 900 },
    });
  });

  it("names the file and the problem for bytes that are not a WIM", () => {
    const bytes = syntheticHeader();
    bytes.write("NOTAWIM!", 0, "latin1");
    const error = errorOfSync(() => parseWimHeader(bytes, 1000, "/data/notes.wim"));
    expect(error.code).toBe("EBADWIM");
    expect(error.message).toContain("/data/notes.wim");
    expect(error.message).toContain("not a WIM");
    expect(error.hint).toContain("is this a .wim file?");
  });

  it("recognises a pipable WIM and says how to convert it", () => {
    const bytes = syntheticHeader();
    bytes.write("WLPWM\0\0\0", 0, "latin1");
    const error = errorOfSync(() => parseWimHeader(bytes, 1000, "p.wim"));
    expect(error.message).toContain("pipable");
    expect(error.hint).toContain("--not-pipable");
  });

  it("refuses a truncated header", () => {
    const error = errorOfSync(() =>
      parseWimHeader(syntheticHeader().subarray(0, 100), 100, "t.wim"),
    );
    expect(error.code).toBe("EBADWIM");
    expect(error.message).toMatch(/t\.wim: truncated WIM header \(100 bytes/);
  });

  it("refuses a header size other than 208", () => {
    const bytes = syntheticHeader();
    bytes.writeUInt32LE(200, 0x08);
    expect(errorOfSync(() => parseWimHeader(bytes, 1000, "h.wim")).message).toContain(
      "header size field is 200",
    );
  });

  it("refuses a resource that lies past the end of the file", () => {
    const bytes = syntheticHeader({ xml: { size: 200, offset: 900 } });
    const error = errorOfSync(() => parseWimHeader(bytes, 1000, "r.wim"));
    expect(error.message).toContain("XML data (offset 900, 200 bytes) lies outside the file");
  });

  it("refuses a resource inside the header and absurd 64-bit offsets", () => {
    expect(
      errorOfSync(() =>
        parseWimHeader(syntheticHeader({ xml: { size: 10, offset: 8 } }), 1000, "a"),
      ).message,
    ).toContain("lies outside the file");
    const huge = syntheticHeader();
    huge.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 0x48 + 8);
    expect(errorOfSync(() => parseWimHeader(huge, 1000, "b")).message).toContain("too large");
  });

  it("refuses impossible part numbers", () => {
    expect(
      errorOfSync(() => parseWimHeader(syntheticHeader({ parts: [3, 2] }), 1000, "s.swm")).message,
    ).toContain("part 3 of 2");
    expect(
      errorOfSync(() => parseWimHeader(syntheticHeader({ parts: [0, 0] }), 1000, "s.swm")).message,
    ).toContain("part 0 of 0");
  });

  it("resolves compression flags the way wimlib does", () => {
    expect(wimCompressionFromFlags(0, "x")).toBe("none");
    expect(wimCompressionFromFlags(0x20002, "x")).toBe("xpress");
    expect(wimCompressionFromFlags(0x200002, "x")).toBe("xpress");
    expect(wimCompressionFromFlags(0x40002, "x")).toBe("lzx");
    expect(wimCompressionFromFlags(0x80002, "x")).toBe("lzms");
    expect(wimCompressionFromFlags(0x40000, "x")).toBe("none");
    expect(() => wimCompressionFromFlags(0x2, "c.wim")).toThrow(/c\.wim: .*no known compression/);
    expect(wimHeaderFlagNames(0x88)).toEqual(["SPANNED", "RP_FIX"]);
  });
});

const compressions: WimtoolsCompression[] = ["none", "XPRESS", "LZX", "LZMS"];

describe("parseWimHeader against wiminfo --header", () => {
  let dir: string;
  let source: string;

  beforeAll(async () => {
    dir = await makeTempDir();
    source = await makeSourceTree(`${dir}/tree`);
  });
  afterAll(async () => removeTempDir(dir));

  for (const compress of compressions) {
    for (const check of [false, true]) {
      it(`agrees for --compress=${compress}${check ? " --check" : ""}`, async () => {
        const wim = await wimCapture(source, `${dir}/${compress}-${check}.wim`, "Img", {
          compress,
          check,
        });
        const bytes = await readFile(wim);
        const header = parseWimHeader(bytes, (await stat(wim)).size, wim);
        const expected = await wiminfoHeader(wim);
        expect(`0x${header.version.toString(16)}`).toBe(expected.Version);
        expect(`0x${header.flags.toString(16)}`).toBe(expected.Flags);
        expect(String(header.chunkSize)).toBe(expected["Chunk Size"]);
        expect(header.guid).toBe(expected.GUID);
        expect(String(header.imageCount)).toBe(expected["Image Count"]);
        expect(String(header.xmlData.offset)).toBe(expected["XML Data Offset"]);
        expect(String(header.xmlData.sizeInWim)).toBe(expected["XML Data Size"]);
        expect(`0x${header.xmlData.flags.toString(16)}`).toBe(expected["XML Data Flags"]);
        expect(String(header.blobTable.offset)).toBe(expected["Blob Table Offset"]);
        expect(String(header.integrityTable.sizeInWim)).toBe(expected["Integrity Size"]);
        expect(header.integrityTable.sizeInWim > 0).toBe(check);
        expect(header.compression).toBe(compress.toLowerCase());
      });
    }
  }
});
