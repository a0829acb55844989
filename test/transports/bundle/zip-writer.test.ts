import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { FileRandomAccess } from "../../../src/transports/bundle/random-access.js";
import { indexZip } from "../../../src/transports/bundle/zip-index.js";
import { ZipWriter } from "../../../src/transports/bundle/zip-writer.js";
import { run, tempDir } from "../../helpers/cli.js";

const pythonCheck = `
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
print(len(z.infolist()), bad)
`;

describe("ZipWriter", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("writes archives that unzip and Python read, with correct CRCs, from bytes and streams", async () => {
    const file = path.join(tmp.dir, "a.zip");
    const zip = await ZipWriter.create(file);
    const big = randomBytes(3 * 1024 * 1024 + 17);
    await zip.addBytes("small.txt", Buffer.from("hello"));
    await zip.addStream(
      "big.bin",
      big.length,
      Readable.from([big.subarray(0, 1000), big.subarray(1000)]),
    );
    await zip.addBytes("empty", Buffer.alloc(0));
    await zip.finish();
    expect(run("unzip", ["-tq", file]).code).toBe(0);
    const py = run("python3", ["-c", pythonCheck, file]);
    expect(py.stdout.trim()).toBe("3 None");
    const source = await FileRandomAccess.open(file);
    const { entries, problems } = await indexZip(source);
    await source.close();
    expect(problems).toEqual([]);
    expect(entries.get("big.bin")?.size).toBe(big.length);
  });

  it("a stream shorter than declared fails and the target never appears", async () => {
    const file = path.join(tmp.dir, "short.zip");
    const zip = await ZipWriter.create(file);
    await expect(zip.addStream("x", 10, Readable.from([Buffer.alloc(5)]))).rejects.toMatchObject({
      code: "ESIZE",
    });
    await zip.abort();
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith("short.zip"))).toEqual([]);
  });

  it("switches to zip64 records past 65535 entries, and readers agree", async () => {
    const file = path.join(tmp.dir, "many.zip");
    const zip = await ZipWriter.create(file);
    const count = 65_600;
    for (let i = 0; i < count; i++) await zip.addBytes(`f${i}`, Buffer.from([i & 0xff]));
    await zip.finish();
    const py = run("python3", ["-c", pythonCheck, file]);
    expect(py.stdout.trim()).toBe(`${count} None`);
    const source = await FileRandomAccess.open(file);
    const { entries } = await indexZip(source);
    await source.close();
    expect(entries.size).toBe(count);
  }, 60_000);
});
