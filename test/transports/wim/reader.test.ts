import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWimHeader } from "../../../src/transports/wim/header.js";
import {
  findSplitParts,
  findWimFiles,
  readWimInfo,
  splitPartFileName,
} from "../../../src/transports/wim/reader.js";
import type { WimImageInfo, WimInfo } from "../../../src/types/wim.js";
import { legacyFullName, wimImageRefName } from "../../../src/types/wim.js";
import { errorOf } from "../../helpers/errors.js";
import {
  makeSourceTree,
  makeTempDir,
  removeTempDir,
  setImageProperties,
  type WimtoolsCompression,
  wimAppend,
  wimCapture,
  wiminfo,
  wiminfoHeader,
  wimSplit,
} from "../../helpers/wimtools.js";

/** wiminfo's architecture names for each OCI name ferry reports. */
const WIMINFO_ARCH: Record<string, string> = {
  "386": "x86",
  arm: "ARM",
  amd64: "x86_64",
  arm64: "ARM64",
};

/** Check the WIM-level facts ferry read against what plain `wiminfo` prints. */
function expectWimMatches(info: WimInfo, printed: Record<string, string>): void {
  expect(info.compression).toBe(printed.Compression?.toLowerCase());
  expect(`${info.partNumber}/${info.totalParts}`).toBe(printed["Part Number"]);
  expect(String(info.images.length)).toBe(printed["Image Count"]);
  expect(String(info.bootIndex)).toBe(printed["Boot Index"]);
  expect(`0x${info.header.guid}`).toBe(printed.GUID);
  expect(String(info.header.version)).toBe(printed.Version);
  expect(`${info.header.chunkSize} bytes`).toBe(printed["Chunk Size"]);
}

/** Check one image ferry read against wiminfo's record for it. */
function expectImageMatches(image: WimImageInfo, printed: Record<string, string>): void {
  const optional = (value: string | number | undefined) =>
    value === undefined ? undefined : String(value);
  expect(String(image.index)).toBe(printed.Index);
  expect(image.name ?? "").toBe(printed.Name);
  expect(image.description ?? "").toBe(printed.Description);
  expect(image.displayName).toBe(printed["Display Name"]);
  expect(image.displayDescription).toBe(printed["Display Description"]);
  expect(image.flags).toBe(printed.Flags);
  expect(optional(image.dirCount)).toBe(printed["Directory Count"]);
  expect(optional(image.fileCount)).toBe(printed["File Count"]);
  expect(optional(image.totalBytes)).toBe(printed["Total Bytes"]);
  expect(image.creationTime?.replace(/\.\d{3}Z$/, ".000Z")).toBe(
    new Date(Date.parse(printed["Creation Time"] ?? "")).toISOString(),
  );
  expect(image.architecture && WIMINFO_ARCH[image.architecture]).toBe(printed.Architecture);
  expect(image.productName).toBe(printed["Product Name"]);
  expect(image.editionId).toBe(printed["Edition ID"]);
  expect(image.installationType).toBe(printed["Installation Type"]);
  const printedVersion = ["Major Version", "Minor Version", "Build", "Service Pack Build"]
    .map((field) => printed[field])
    .join(".");
  expect(image.version).toBe(printed["Major Version"] ? printedVersion : undefined);
}

async function expectAgreesWithWiminfo(path: string): Promise<WimInfo> {
  const info = await readWimInfo(path);
  const printed = await wiminfo(path);
  expectWimMatches(info, printed.wim);
  expect(info.images).toHaveLength(printed.images.length);
  info.images.forEach((image, i) => {
    expectImageMatches(image, printed.images[i] ?? {});
  });
  const header = await wiminfoHeader(path);
  expect(info.hasIntegrityTable).toBe(header["Integrity Size"] !== "0");
  return info;
}

/** Copy `from` to `to`, changing its bytes with `patch` (which gets the parsed header). */
async function patchedCopy(
  from: string,
  to: string,
  patch: (bytes: Buffer, xmlOffset: number, xmlSize: number) => Buffer,
): Promise<string> {
  const bytes = await readFile(from);
  const header = parseWimHeader(bytes, bytes.length, from);
  await writeFile(to, patch(bytes, header.xmlData.offset, header.xmlData.sizeInWim));
  return to;
}

function replaceUtf16(bytes: Buffer, from: number, search: string, replacement: string): Buffer {
  const needle = Buffer.from(search, "utf16le");
  const at = bytes.indexOf(needle, from);
  expect(at).toBeGreaterThan(0);
  Buffer.from(replacement, "utf16le").copy(bytes, at);
  return bytes;
}

const XML_OFFSET_FIELD = 0x48 + 8;
const XML_FLAGS_FIELD = 0x48 + 7;
const IMAGE_COUNT_FIELD = 0x2c;

describe("WIM reader on real wimtools output", () => {
  let dir: string;
  let tree: string;
  let bigTree: string;
  let plainWim: string;
  let twoImageWim: string;
  let splitDir: string;
  /** File names of the split set, in part order (NANO.swm, NANO2.swm, ...). */
  let splitNames: string[];

  beforeAll(async () => {
    dir = await makeTempDir();
    tree = await makeSourceTree(join(dir, "tree"));
    bigTree = await makeSourceTree(join(dir, "big"), { fileCount: 3, fileBytes: 40_000 });
    plainWim = await wimCapture(tree, join(dir, "plain.wim"), "NanoServer", {
      description: "Nano Server base",
    });
    twoImageWim = await wimCapture(tree, join(dir, "two.wim"), "NanoServer", { check: true });
    await setImageProperties(
      twoImageWim,
      1,
      {
        "WINDOWS/VERSION/MAJOR": "10",
        "WINDOWS/VERSION/MINOR": "0",
        "WINDOWS/VERSION/BUILD": "14300",
        "WINDOWS/VERSION/SPBUILD": "1010",
        "WINDOWS/ARCH": "9",
        "WINDOWS/PRODUCTNAME": "Microsoft® Windows® Operating System",
        "WINDOWS/EDITIONID": "ServerDatacenterNano",
        "WINDOWS/INSTALLATIONTYPE": "Nano Server",
        DISPLAYNAME: "Nano Server <&> 'base'",
        DISPLAYDESCRIPTION: "The Nano Server container base",
        FLAGS: "ServerDatacenterNano",
      },
      { check: true },
    );
    await wimAppend(tree, twoImageWim, "UtilityVM", { description: "Hyper-V VM", check: true });
    await setImageProperties(
      twoImageWim,
      2,
      { "WINDOWS/ARCH": "12", "WINDOWS/VERSION/MAJOR": "10", "WINDOWS/VERSION/BUILD": "14300" },
      { check: true },
    );
    const bigWim = await wimCapture(bigTree, join(dir, "big.wim"), "Big");
    splitDir = join(dir, "split");
    await mkdir(splitDir);
    await wimSplit(bigWim, join(splitDir, "NANO.swm"), 0.03);
    const partCount = (await readdir(splitDir)).length;
    splitNames = Array.from({ length: partCount }, (_, i) => splitPartFileName("NANO.swm", i + 1));
  });
  afterAll(async () => removeTempDir(dir));

  describe("every compression, with and without an integrity table", () => {
    const compressions: WimtoolsCompression[] = ["none", "XPRESS", "LZX", "LZMS"];
    for (const compress of compressions) {
      for (const check of [false, true]) {
        it(`reads --compress=${compress}${check ? " --check" : ""} like wiminfo`, async () => {
          const path = join(dir, `${compress}-${check}.wim`);
          await wimCapture(tree, path, "WindowsServerCore", { compress, check });
          const info = await expectAgreesWithWiminfo(path);
          expect(info.compression).toBe(compress.toLowerCase());
          expect(info.hasIntegrityTable).toBe(check);
          expect(info.images[0]?.name).toBe("WindowsServerCore");
        });
      }
    }

    it("reads a solid LZMS WIM (--solid)", async () => {
      const path = join(dir, "solid.wim");
      await wimCapture(tree, path, "Solid", { compress: "LZMS", solid: true });
      const info = await expectAgreesWithWiminfo(path);
      expect(info.compression).toBe("lzms");
      expect(info.header.version).toBe(0xe00);
    });
  });

  it("reads a plain WIM: one image, no Windows fields, its own size and path", async () => {
    const info = await expectAgreesWithWiminfo(plainWim);
    expect(info).toMatchObject({
      path: plainWim,
      compression: "none",
      hasIntegrityTable: false,
      partNumber: 1,
      totalParts: 1,
      bootIndex: 0,
      partPaths: [plainWim],
    });
    expect(info.size).toBe((await readFile(plainWim)).length);
    expect(info.totalBytes).toBeGreaterThan(0);
    expect(info.images[0]).toMatchObject({ index: 1, description: "Nano Server base" });
    expect(info.images[0]?.version).toBeUndefined();
    expect(info.images[0]?.architecture).toBeUndefined();
  });

  it("reads two images with Windows version fields set by wiminfo --image-property", async () => {
    const info = await expectAgreesWithWiminfo(twoImageWim);
    expect(info.hasIntegrityTable).toBe(true);
    const [base, utilityVm] = info.images;
    expect(base).toMatchObject({
      index: 1,
      name: "NanoServer",
      displayName: "Nano Server <&> 'base'",
      architecture: "amd64",
      archCode: 9,
      version: "10.0.14300.1010",
      productName: "Microsoft® Windows® Operating System",
      editionId: "ServerDatacenterNano",
      installationType: "Nano Server",
    });
    expect(utilityVm).toMatchObject({
      index: 2,
      name: "UtilityVM",
      architecture: "arm64",
      version: "10.0.14300.0",
    });
    expect(wimImageRefName(base?.name ?? "", base?.version ?? "")).toBe(
      "nanoserver:10.0.14300.1010",
    );
    expect(legacyFullName(base?.name ?? "", base?.version ?? "")).toBe(
      "CN=Microsoft_NanoServer_10.0.14300.1010",
    );
  });

  describe("split WIMs (wimsplit)", () => {
    it("reads part 1 with its siblings next to it", async () => {
      const first = join(splitDir, "NANO.swm");
      const info = await expectAgreesWithWiminfo(first);
      expect(splitNames.length).toBeGreaterThanOrEqual(4);
      expect(info.totalParts).toBe(splitNames.length);
      expect(info.header.spanned).toBe(true);
      expect(info.partPaths).toEqual(splitNames.map((name) => join(splitDir, name)));
      const set = await findSplitParts(first);
      expect(set.missing).toEqual([]);
      expect(set.parts.every((part) => part.present)).toBe(true);
    });

    it("reads a later part when every part is there", async () => {
      const info = await readWimInfo(join(splitDir, "NANO3.swm"));
      expect(info.partNumber).toBe(3);
      expect(info.partPaths[0]).toBe(join(splitDir, "NANO.swm"));
    });

    it("refuses part 1 given alone and names every missing part", async () => {
      const alone = join(dir, "alone");
      await mkdir(alone);
      await copyFile(join(splitDir, "NANO.swm"), join(alone, "NANO.swm"));
      const error = await errorOf(readWimInfo(join(alone, "NANO.swm")));
      expect(error.code).toBe("EBADWIM");
      expect(error.message).toContain(join(alone, "NANO.swm"));
      expect(error.message).toContain(`part 1 of a ${splitNames.length}-part split WIM`);
      for (const name of splitNames.slice(1)) expect(error.message).toContain(`${name} (missing)`);
      expect(error.details.missing).toEqual(splitNames.slice(1));
      expect(error.hint).toContain("copy all the .swm parts next to each other");
    });

    it("names just the one missing part, and a part from another set", async () => {
      const partial = join(dir, "partial");
      await mkdir(partial);
      for (const name of splitNames.filter((name) => name !== "NANO3.swm")) {
        await copyFile(join(splitDir, name), join(partial, name));
      }
      expect((await findSplitParts(join(partial, "NANO.swm"))).missing).toEqual(["NANO3.swm"]);

      const otherSet = join(dir, "other-set");
      await mkdir(otherSet);
      await wimSplit(join(dir, "big.wim"), join(otherSet, "NANO.swm"), 0.03);
      await copyFile(join(otherSet, "NANO3.swm"), join(partial, "NANO3.swm"));
      const error = await errorOf(readWimInfo(join(partial, "NANO.swm")));
      expect(error.message).toContain("NANO3.swm (belongs to another split set)");
    });
  });

  describe("hostile and broken inputs", () => {
    it("refuses random bytes as not a WIM", async () => {
      const path = join(dir, "random.wim");
      await writeFile(path, randomBytes(4096));
      const error = await errorOf(readWimInfo(path));
      expect(error.code).toBe("EBADWIM");
      expect(error.message).toBe(
        `${path}: not a WIM file (the magic bytes are not MSWIM\\0\\0\\0)`,
      );
      expect(error.hint).toContain("is this a .wim file?");
    });

    it("refuses a truncated header (100 bytes) and an empty file", async () => {
      const path = join(dir, "short.wim");
      await writeFile(path, (await readFile(plainWim)).subarray(0, 100));
      expect((await errorOf(readWimInfo(path))).message).toContain(
        `${path}: truncated WIM header (100 bytes`,
      );
      await writeFile(path, Buffer.alloc(0));
      expect((await errorOf(readWimInfo(path))).message).toContain("truncated WIM header (0 bytes");
    });

    it("refuses an XML offset past the end of the file", async () => {
      const path = await patchedCopy(plainWim, join(dir, "xml-past-eof.wim"), (bytes) => {
        bytes.writeBigUInt64LE(BigInt(bytes.length + 100), XML_OFFSET_FIELD);
        return bytes;
      });
      const error = await errorOf(readWimInfo(path));
      expect(error.code).toBe("EBADWIM");
      expect(error.message).toMatch(/XML data \(offset \d+, \d+ bytes\) lies outside the file/);
    });

    it("refuses a file cut short inside its XML data", async () => {
      const path = await patchedCopy(plainWim, join(dir, "cut.wim"), (bytes, offset) =>
        bytes.subarray(0, offset + 10),
      );
      expect((await errorOf(readWimInfo(path))).message).toContain("lies outside the file");
    });

    it("refuses garbled XML: unbalanced tags, bad UTF-16, a wrong root", async () => {
      const unbalanced = await patchedCopy(plainWim, join(dir, "garbled1.wim"), (bytes, at) =>
        replaceUtf16(bytes, at, "</NAME>", "</NAMX>"),
      );
      expect((await errorOf(readWimInfo(unbalanced))).message).toContain(
        "does not parse: end tag </NAMX> does not match <NAME>",
      );
      const badUtf16 = await patchedCopy(plainWim, join(dir, "garbled2.wim"), (bytes, at) => {
        bytes.writeUInt16LE(0xdc00, at + 10);
        return bytes;
      });
      expect((await errorOf(readWimInfo(badUtf16))).message).toContain("not valid UTF-16LE");
      const wrongRoot = await patchedCopy(plainWim, join(dir, "garbled3.wim"), (bytes, at) =>
        replaceUtf16(replaceUtf16(bytes, at, "<WIM>", "<MIW>"), at, "</WIM>", "</MIW>"),
      );
      expect((await errorOf(readWimInfo(wrongRoot))).message).toContain("expected <WIM>");
      const noise = await patchedCopy(plainWim, join(dir, "garbled4.wim"), (bytes, at, size) => {
        randomBytes(size).copy(bytes, at);
        return bytes;
      });
      expect((await errorOf(readWimInfo(noise))).code).toBe("EBADWIM");
    });

    it("refuses a compressed XML resource", async () => {
      const path = await patchedCopy(plainWim, join(dir, "xml-compressed.wim"), (bytes) => {
        bytes[XML_FLAGS_FIELD] = (bytes[XML_FLAGS_FIELD] ?? 0) | 0x04;
        return bytes;
      });
      const error = await errorOf(readWimInfo(path));
      expect(error.message).toBe(`${path}: compressed XML resource is not supported`);
    });

    it("refuses a header whose image count disagrees with the XML", async () => {
      const path = await patchedCopy(plainWim, join(dir, "count.wim"), (bytes) => {
        bytes.writeUInt32LE(2, IMAGE_COUNT_FIELD);
        return bytes;
      });
      expect((await errorOf(readWimInfo(path))).message).toContain(
        "header counts 2 image(s) but the XML data describes 1",
      );
    });

    it("reports a missing file and a folder clearly", async () => {
      const missing = await errorOf(readWimInfo(join(dir, "nope.wim")));
      expect(missing.code).toBe("ENOTFOUND");
      expect(missing.message).toContain("nope.wim");
      const folder = await errorOf(readWimInfo(tree));
      expect(folder.code).toBe("EBADWIM");
      expect(folder.message).toBe(`${tree} is a directory, not a regular file`);
    });
  });

  describe("findWimFiles", () => {
    let share: string;

    beforeAll(async () => {
      share = join(dir, "share");
      await mkdir(join(share, "sub"), { recursive: true });
      await copyFile(twoImageWim, join(share, "good.wim"));
      await writeFile(join(share, "Bad.WIM"), randomBytes(300));
      await writeFile(join(share, "notes.txt"), "not a wim");
      for (const name of splitNames) await copyFile(join(splitDir, name), join(share, name));
      await copyFile(plainWim, join(share, "sub", "inner.wim"));
    });
    afterAll(async () => rm(share, { recursive: true, force: true }));

    it("lists the folder's WIMs, bad ones with their error, split sets once", async () => {
      const entries = await findWimFiles(share);
      expect(entries.map((entry) => entry.path)).toEqual(
        ["Bad.WIM", "NANO.swm", "good.wim"].map((name) => join(share, name)),
      );
      const [bad, split, good] = entries;
      expect(bad?.error?.code).toBe("EBADWIM");
      expect(bad?.size).toBe(300);
      expect(split?.info?.totalParts).toBe(splitNames.length);
      expect(good?.info?.images[0]?.version).toBe("10.0.14300.1010");
      expect(good?.size).toBe((await readFile(twoImageWim)).length);
    });

    it("looks into sub-folders with recursive", async () => {
      const entries = await findWimFiles(share, { recursive: true });
      expect(entries.map((entry) => entry.path)).toContain(join(share, "sub", "inner.wim"));
      expect(entries).toHaveLength(4);
    });

    it("fails for a folder that does not exist", async () => {
      expect((await errorOf(findWimFiles(join(dir, "no-such-share")))).code).toBe("ENOTFOUND");
    });
  });
});
