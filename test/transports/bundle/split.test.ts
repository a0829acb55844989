import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { xorInto } from "../../../src/transports/bundle/parity.js";
import { FileRandomAccess, readAt } from "../../../src/transports/bundle/random-access.js";
import { BundleReader } from "../../../src/transports/bundle/reader.js";
import { openBundleAccess } from "../../../src/transports/bundle/split-open.js";
import { SplitRandomAccess } from "../../../src/transports/bundle/split-random-access.js";
import { indexZip } from "../../../src/transports/bundle/zip-index.js";
import { ZipWriter } from "../../../src/transports/bundle/zip-writer.js";
import {
  FAT32_MAX_FILE,
  locatePart,
  parsePartsManifest,
  parseSplitSize,
  partCount,
  partSizeAt,
  splitRange,
  validatePartsManifest,
} from "../../../src/types/parts.js";
import { run, tempDir } from "../../helpers/cli.js";
import { Rng, showSeedOnFailure, stressSeed } from "../../helpers/seeded.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const when = new Date("2026-03-01T12:00:00Z");

const SEED = stressSeed();
showSeedOnFailure(SEED);

describe("split sizes", () => {
  it("fat32 is the largest FAT32 file, 4 GiB - 1 byte", () => {
    expect(parseSplitSize("fat32")).toBe(4294967295);
    expect(parseSplitSize("FAT32")).toBe(FAT32_MAX_FILE);
    expect(FAT32_MAX_FILE).toBe(2 ** 32 - 1);
  });

  it("reads binary units and refuses nonsense", () => {
    expect(parseSplitSize("700M")).toBe(700 * 1024 * 1024);
    expect(parseSplitSize("4G")).toBe(4 * 1024 ** 3);
    expect(parseSplitSize("1.5G")).toBe(1610612736);
    expect(parseSplitSize("650MiB")).toBe(650 * 1024 * 1024);
    expect(parseSplitSize("64k")).toBe(65536);
    expect(parseSplitSize("1000000")).toBe(1000000);
    expect(parseSplitSize("5.5K")).toBe(5632);
    for (const bad of ["", "M", "-5M", "12X", "1e9", "4 G B", "100"]) {
      expect(() => parseSplitSize(bad), bad).toThrow(/--split/);
    }
  });

  it("counts and sizes parts at the FAT32 boundary", () => {
    const f = FAT32_MAX_FILE;
    expect(partCount(f, f)).toBe(1);
    expect(partCount(f + 1, f)).toBe(2);
    expect(partSizeAt(f + 1, f, 0)).toBe(f);
    expect(partSizeAt(f + 1, f, 1)).toBe(1);
    expect(partCount(2 * f, f)).toBe(2);
    expect(partCount(2 * f + 1, f)).toBe(3);
    expect(partSizeAt(10 * 1024 ** 3, f, 2)).toBe(10 * 1024 ** 3 - 2 * f);
    expect(locatePart(f - 1, f)).toEqual({ index: 0, offset: f - 1 });
    expect(locatePart(f, f)).toEqual({ index: 1, offset: 0 });
    expect(locatePart(2 * f + 5, f)).toEqual({ index: 2, offset: 5 });
    // A 4-byte CRC patch straddling the first boundary lands in two parts.
    expect(splitRange(f - 2, 4, f)).toEqual([
      { index: 0, offset: f - 2, length: 2, from: 0 },
      { index: 1, offset: 0, length: 2, from: 2 },
    ]);
    // The same arithmetic with tiny parts, across several boundaries at once.
    expect(splitRange(5, 20, 7)).toEqual([
      { index: 0, offset: 5, length: 2, from: 0 },
      { index: 1, offset: 0, length: 7, from: 2 },
      { index: 2, offset: 0, length: 7, from: 9 },
      { index: 3, offset: 0, length: 4, from: 16 },
    ]);
  });
});

/** Write the same entries as one zip and as split volumes; return both paths. */
async function writeBoth(
  dir: string,
  name: string,
  partSize: number,
  entries: Array<[string, Buffer]>,
  options: { parity?: boolean; digest?: "inline" | "after"; parityInMemory?: number } = {},
) {
  const single = path.join(dir, `${name}-single.zip`);
  const split = path.join(dir, `${name}.zip`);
  const a = await ZipWriter.create(single, when);
  const b = await ZipWriter.create(split, when, {
    split: {
      partSize,
      parity: options.parity,
      digest: options.digest ?? "inline",
      parityInMemory: options.parityInMemory,
    },
  });
  for (const [entry, bytes] of entries) {
    await a.addBytes(entry, bytes);
    // Streams of odd chunk sizes, so headers, data and CRC patches cross part boundaries.
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 333) chunks.push(bytes.subarray(at, at + 333));
    await b.addStream(entry, bytes.length, Readable.from(chunks));
  }
  await a.finish();
  const finished = await b.finish({ bundleId: "test-id" });
  return { single, split, finished };
}

function partFiles(dir: string, name: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.\d{3}$/.test(f) && f.startsWith(`${name}.zip.`))
    .sort();
}

describe("xorInto", () => {
  it("matches a byte loop at every alignment", () => {
    const a = randomBytes(300);
    const b = randomBytes(300);
    for (const [ta, sa] of [
      [0, 0],
      [1, 1],
      [3, 7],
      [2, 5],
      [4, 0],
    ] as const) {
      const target = Buffer.from(a);
      const length = 250;
      xorInto(target.subarray(ta, ta + length), b.subarray(sa, sa + length));
      const expected = Buffer.from(a);
      for (let i = 0; i < length; i++)
        expected[ta + i] = (a[ta + i] as number) ^ (b[sa + i] as number);
      expect(target.equals(expected), `${ta}/${sa}`).toBe(true);
    }
  });
});

describe("split writer and reader", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const entries: Array<[string, Buffer]> = [
    ["oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
    ["blobs/sha256/a", randomBytes(5000)],
    ["blobs/sha256/b", randomBytes(1)],
    ["blobs/sha256/c", Buffer.alloc(0)],
    ["blobs/sha256/d", randomBytes(12_345)],
  ];

  it("joined parts are byte for byte the unsplit zip; .parts records sizes and sha256s", async () => {
    const { single, finished } = await writeBoth(tmp.dir, "a", 1000, entries);
    const whole = readFileSync(single);
    const names = partFiles(tmp.dir, "a");
    expect(names).toEqual(finished.parts?.parts.map((p) => p.name));
    expect(names.length).toBe(Math.ceil(whole.length / 1000));
    const joined = Buffer.concat(names.map((n) => readFileSync(path.join(tmp.dir, n))));
    expect(joined.equals(whole)).toBe(true);
    const manifest = parsePartsManifest(
      readFileSync(path.join(tmp.dir, "a.zip.parts")),
      "a.zip.parts",
    );
    expect(manifest).toEqual(finished.parts);
    expect(manifest.id).toBe("test-id");
    expect(manifest.size).toBe(whole.length);
    for (const part of manifest.parts) {
      const bytes = readFileSync(path.join(tmp.dir, part.name));
      expect(bytes.length).toBe(part.size);
      expect(sha256(bytes)).toBe(part.sha256);
    }
    expect(manifest.parity).toBeNull();
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("parity is the XOR of the parts (zero-padded): in memory as it goes, or a pass at the end", async () => {
    const ways = [
      { digest: "inline", parityInMemory: undefined },
      { digest: "after", parityInMemory: undefined },
      { digest: "inline", parityInMemory: 0 },
    ] as const;
    for (const [n, way] of ways.entries()) {
      const name = `p-${n}`;
      const { finished } = await writeBoth(tmp.dir, name, 4096, entries, { parity: true, ...way });
      const parity = finished.parts?.parity;
      expect(parity?.name).toBe(`${name}.zip.parity`);
      const expected = Buffer.alloc(4096);
      for (const part of finished.parts?.parts ?? []) {
        xorInto(expected, readFileSync(path.join(tmp.dir, part.name)));
      }
      const found = readFileSync(path.join(tmp.dir, `${name}.zip.parity`));
      expect(found.equals(expected)).toBe(true);
      expect(sha256(found)).toBe(parity?.sha256);
    }
  });

  it("reads entries that cross part boundaries, in place", async () => {
    const { split, single } = await writeBoth(tmp.dir, "r", 777, entries);
    const { source, split: found } = await openBundleAccess(`${split}.parts`);
    expect(found?.parts.length).toBe(partFiles(tmp.dir, "r").length);
    const { entries: index, problems } = await indexZip(source);
    expect(problems).toEqual([]);
    for (const [name, bytes] of entries) {
      const entry = index.get(name);
      expect(entry?.size).toBe(bytes.length);
      const got = await readAt(source, entry?.dataStart ?? 0, bytes.length);
      expect(got.equals(bytes), name).toBe(true);
      const streamed: Buffer[] = [];
      for await (const chunk of source.createReadStream(
        entry?.dataStart ?? 0,
        (entry?.dataStart ?? 0) + bytes.length,
      )) {
        streamed.push(chunk as Buffer);
      }
      expect(Buffer.concat(streamed).equals(bytes), name).toBe(true);
    }
    // Seeded random reads across boundaries agree with the single file.
    const whole = readFileSync(single);
    const rng = new Rng(SEED).fork("split-reads");
    for (let i = 0; i < 200; i++) {
      const at = rng.int(0, whole.length);
      const length = rng.int(0, 3000);
      const got = await readAt(source, at, length);
      expect(got.equals(whole.subarray(at, at + length)), `${length} bytes at ${at}`).toBe(true);
    }
    await source.close();
    // unzip reads the joined bytes (the parts are a plain split of a plain zip).
    const joined = path.join(tmp.dir, "joined.zip");
    writeFileSync(
      joined,
      Buffer.concat(partFiles(tmp.dir, "r").map((n) => readFileSync(path.join(tmp.dir, n)))),
    );
    expect(run("unzip", ["-tq", joined]).code).toBe(0);
  });

  it("names a missing or truncated part when reading, and before reading with .parts", async () => {
    const { split } = await writeBoth(tmp.dir, "m", 2000, entries);
    const names = partFiles(tmp.dir, "m");
    const third = path.join(tmp.dir, names[2] as string);
    const saved = readFileSync(third);
    writeFileSync(third, saved.subarray(0, 100));
    await expect(openBundleAccess(`${split}.001`)).rejects.toThrow(
      /m\.zip\.003 \(part 3 of \d+\) is 100 bytes/,
    );
    const parts = names.map((n) => ({ name: n, path: path.join(tmp.dir, n), size: 2000 }));
    const access = new SplitRandomAccess("m", parts, "copy it again");
    await expect(readAt(access, 4500, 1000)).rejects.toThrow(
      /m\.zip\.003 \(part 3 of \d+\) is truncated: it has no byte 100 of the 2000/,
    );
    await access.close();
    writeFileSync(third, saved);
  });

  it("a failed save leaves no part, no parity and no .parts", async () => {
    const target = path.join(tmp.dir, "fail.zip");
    const zip = await ZipWriter.create(target, when, {
      split: { partSize: 1000, parity: true, digest: "inline" },
    });
    await zip.addBytes("x", randomBytes(3000));
    await expect(zip.addStream("y", 5000, Readable.from([randomBytes(100)]))).rejects.toMatchObject(
      {
        code: "ESIZE",
      },
    );
    await zip.abort();
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith("fail.zip"))).toEqual([]);
  });

  it("BundleReader opens a bundle given as B.zip.parts, B.zip.001 or B.zip", async () => {
    // A structurally invalid bundle still shows that the reader got to the zip's entries.
    const { split } = await writeBoth(tmp.dir, "o", 900, entries);
    for (const input of [`${split}.parts`, `${split}.001`, split]) {
      const reader = await BundleReader.open(input, { collectProblems: true });
      expect(reader.label).toContain("o.zip (");
      expect(reader.entry("oci-layout")?.size).toBe(30);
      expect(reader.problems.some((p) => p.message.includes("blobs/sha256/d"))).toBe(true);
      await reader.close();
    }
  });

  it("validates .parts: derived names only, sizes that add up", () => {
    const good = {
      schema: "ferry.parts/v1",
      bundle: "b.zip",
      id: "x",
      size: 2500,
      partSize: 1000,
      parts: [
        { name: "b.zip.001", size: 1000, sha256: "a".repeat(64) },
        { name: "b.zip.002", size: 1000, sha256: "b".repeat(64) },
        { name: "b.zip.003", size: 500, sha256: "c".repeat(64) },
      ],
      parity: { scheme: "xor", name: "b.zip.parity", size: 1000, sha256: "d".repeat(64) },
    };
    expect(validatePartsManifest(good, "b.zip.parts")).toEqual(good);
    const bad = (patch: object) => () =>
      validatePartsManifest({ ...good, ...patch }, "b.zip.parts");
    expect(bad({ bundle: "../b.zip" })).toThrow(/bundle file name/);
    expect(bad({ size: 3500 })).toThrow(/make 4/);
    expect(
      bad({
        parts: [...good.parts.slice(0, 2), { name: "../x", size: 500, sha256: "c".repeat(64) }],
      }),
    ).toThrow(/expected b\.zip\.003/);
    expect(bad({ parity: { ...good.parity, size: 500 } })).toThrow(/parity has size 500/);
    expect(bad({ schema: "x" })).toThrow(/schema/);
  });

  it("FileRandomAccess still reads single files", async () => {
    const { single } = await writeBoth(tmp.dir, "s", 1000, entries);
    const source = await FileRandomAccess.open(single);
    expect(source.size).toBe(statSync(single).size);
    await source.close();
  });
});
