import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { FileOutput } from "../../../src/transports/bundle/file-output.js";
import { FileRandomAccess, readAt } from "../../../src/transports/bundle/random-access.js";
import { indexZip } from "../../../src/transports/bundle/zip-index.js";
import {
  type ZipEntryWriter,
  type ZipOutput,
  ZipWriter,
} from "../../../src/transports/bundle/zip-writer.js";
import { run, tempDir } from "../../helpers/cli.js";
import { checkHeaders } from "./zip-headers.js";

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

const MiB = 1024 * 1024;

/** Prints `name size sha256` for every member, after checking every CRC (testzip). */
const pythonDigests = `
import sys, zipfile, hashlib
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
for info in z.infolist():
    print(info.filename, info.file_size, hashlib.sha256(z.read(info)).hexdigest())
`;

/**
 * Write `content` as one entry through a single buffer of `bufferSize` bytes that is
 * overwritten as soon as each write resolves, as the verified pump reuses its buffers.
 */
async function writeReused(
  zip: ZipWriter,
  name: string,
  content: Buffer,
  bufferSize: number,
): Promise<void> {
  const entry = await zip.beginEntry(name, content.length);
  const buffer = Buffer.alloc(bufferSize);
  for (let at = 0; at < content.length; at += bufferSize) {
    const length = content.copy(buffer, 0, at, at + bufferSize);
    await entry.write(buffer, length);
    buffer.fill(0xa5);
  }
  await entry.finish();
}

function filesNamed(dir: string, prefix: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(prefix));
}

describe("ZipWriter entry writer (beginEntry)", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("small and large entries from reused buffers: unzip, Python and the strict header checks agree", async () => {
    const file = path.join(tmp.dir, "entries.zip");
    const zip = await ZipWriter.create(file);
    const expected = new Map<string, Buffer>();
    const add = (name: string, bytes: Buffer) => expected.set(name, bytes);
    add("first", Buffer.from("first entry"));
    await zip.addBytes("first", expected.get("first") as Buffer);
    // Small writes are gathered (copied); more than the 1 MiB gather buffer in all.
    add("gathered", randomBytes(MiB + MiB / 2 + 13));
    await writeReused(zip, "gathered", expected.get("gathered") as Buffer, 64 * 1024);
    add("tiny", randomBytes(3));
    await writeReused(zip, "tiny", expected.get("tiny") as Buffer, 1);
    // 1 MiB writes go straight to the output; the last one is partial (length < buffer).
    add("direct", randomBytes(3 * MiB + 5));
    await writeReused(zip, "direct", expected.get("direct") as Buffer, MiB);
    add("empty", Buffer.alloc(0));
    await (await zip.beginEntry("empty", 0)).finish();
    // Just over the direct-write threshold, so writes alternate with header gathering.
    add("mid", randomBytes(700 * 1024));
    await writeReused(zip, "mid", expected.get("mid") as Buffer, 300 * 1024);
    add("streamed", randomBytes(2 * MiB + 1));
    const streamed = expected.get("streamed") as Buffer;
    await zip.addStream(
      "streamed",
      streamed.length,
      Readable.from([streamed.subarray(0, 10), streamed.subarray(10)]),
    );
    add("last", Buffer.from("last"));
    await zip.addBytes("last", expected.get("last") as Buffer);
    await zip.finish();

    expect(run("unzip", ["-tq", file]).code).toBe(0);
    const py = run("python3", ["-c", pythonDigests, file]);
    expect(py.code, py.stderr).toBe(0);
    const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
    expect(py.stdout.trim().split("\n")).toEqual(
      [...expected].map(([name, bytes]) => `${name} ${bytes.length} ${sha(bytes)}`),
    );
    const report = await checkHeaders(file);
    expect(report.problems).toEqual([]);
    expect(report.headers.map((h) => h.name.toString("utf8"))).toEqual([...expected.keys()]);
    for (const [name, bytes] of expected) expect(report.entries.get(name)?.size).toBe(bytes.length);
  });

  it("an entry shorter than declared fails at finish (ESIZE); the archive can then only be aborted", async () => {
    const file = path.join(tmp.dir, "short-entry.zip");
    const zip = await ZipWriter.create(file);
    await zip.addBytes("ok", Buffer.from("ok"));
    const entry = await zip.beginEntry("short", 10);
    await entry.write(Buffer.alloc(4));
    await expect(entry.finish()).rejects.toMatchObject({
      code: "ESIZE",
      details: { expected: 10, found: 4 },
    });
    await entry.discard();
    await expect(zip.addBytes("more", Buffer.alloc(1))).rejects.toMatchObject({
      code: "EINTERNAL",
    });
    await expect(zip.finish()).rejects.toMatchObject({ code: "EINTERNAL" });
    await zip.abort();
    expect(filesNamed(tmp.dir, "short-entry.zip")).toEqual([]);
  });

  it("a write past the declared size is refused before any of it is written (ESIZE)", async () => {
    const file = path.join(tmp.dir, "long-entry.zip");
    const zip = await ZipWriter.create(file);
    const entry = await zip.beginEntry("long", 10);
    await entry.write(Buffer.alloc(6));
    const before = zip.size;
    await expect(entry.write(Buffer.alloc(6))).rejects.toMatchObject({
      code: "ESIZE",
      details: { expected: 10, found: 12 },
    });
    expect(zip.size).toBe(before);
    await expect(entry.write(Buffer.alloc(1))).rejects.toMatchObject({ code: "ESIZE" });
    await expect(entry.finish()).rejects.toMatchObject({ code: "ESIZE" });
    await entry.discard();
    await zip.abort();
    expect(filesNamed(tmp.dir, "long-entry.zip")).toEqual([]);
  });

  it("split volumes: one entry at a time and one write at a time; a discarded entry leaves the archive to be aborted", async () => {
    const file = path.join(tmp.dir, "order.zip");
    // Split volumes take one entry at a time (a single file takes several: see below).
    const zip = await ZipWriter.create(file, new Date(), { split: { partSize: 3 * MiB } });
    expect(zip.concurrentEntries).toBe(false);
    expect(zip.tempPath).toBeUndefined();
    const entry = await zip.beginEntry("a", 2 * MiB);
    await expect(zip.beginEntry("b", 1)).rejects.toMatchObject({ code: "EINTERNAL" });
    await expect(zip.addBytes("b", Buffer.alloc(1))).rejects.toMatchObject({ code: "EINTERNAL" });
    const first = entry.write(Buffer.alloc(MiB));
    await expect(entry.write(Buffer.alloc(MiB))).rejects.toMatchObject({ code: "EINTERNAL" });
    await first;
    await entry.write(Buffer.alloc(MiB, 1));
    await entry.finish();
    await expect(entry.write(Buffer.alloc(1))).rejects.toMatchObject({ code: "EINTERNAL" });
    await entry.discard(); // after finish: nothing to undo
    const dropped = await zip.beginEntry("dropped", 100);
    await dropped.write(Buffer.alloc(50));
    await dropped.discard();
    await expect(zip.beginEntry("c", 1)).rejects.toThrow(/dropped was discarded/);
    await zip.abort();
    expect(filesNamed(tmp.dir, "order.zip")).toEqual([]);
  });
});

/**
 * The same output as FileOutput but not declared positional: the writer takes one entry at a
 * time, as it does for split volumes. For comparing the two modes byte for byte.
 */
async function sequentialFileOutput(target: string): Promise<ZipOutput> {
  const file = await FileOutput.create(target);
  return {
    target,
    write: (buffer, position) => file.write(buffer, position),
    settle: () => {},
    commit: (size) => file.commit(size),
    abort: () => file.abort(),
  };
}

/** An entry written from its own reused buffer, `chunk` bytes per write. */
interface ChunkedEntry {
  name: string;
  content: Buffer;
  entry: ZipEntryWriter;
  buffer: Buffer;
  at: number;
}

async function openChunked(
  zip: ZipWriter,
  name: string,
  content: Buffer,
  chunk: number,
): Promise<ChunkedEntry> {
  const entry = await zip.beginEntry(name, content.length);
  return { name, content, entry, buffer: Buffer.alloc(chunk), at: 0 };
}

/** Write the next chunk of `e`, then scribble over its buffer (the caller-buffer rule). */
async function writeNextChunk(e: ChunkedEntry): Promise<void> {
  const length = e.content.copy(e.buffer, 0, e.at, e.at + e.buffer.length);
  e.at += length;
  await e.entry.write(e.buffer, length);
  e.buffer.fill(0x5a);
}

/** Round robin: one chunk of every unfinished entry per round, all in flight at once. */
async function writeRoundRobin(entries: ChunkedEntry[]): Promise<void> {
  for (;;) {
    const pending = entries.filter((e) => e.at < e.content.length);
    if (pending.length === 0) return;
    await Promise.all(pending.map(writeNextChunk));
  }
}

describe("ZipWriter concurrent entries (single file)", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const when = new Date("2026-02-03T04:05:06Z");
  const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

  it("entries written round robin: unzip, Python and ferry's reader agree, listed by offset, bytes as a sequential writer's", async () => {
    const file = path.join(tmp.dir, "concurrent.zip");
    const zip = await ZipWriter.create(file, when);
    expect(zip.concurrentEntries).toBe(true);
    expect(zip.tempPath).toMatch(/concurrent\.zip\..*\.tmp$/);
    const contents = new Map<string, Buffer>([
      ["first", Buffer.from("first entry")],
      ["a-big", randomBytes(MiB + MiB / 2 + 7)],
      ["b-mid", randomBytes(300 * 1024 + 1)],
      ["c-tiny", randomBytes(10)],
      ["middle", Buffer.from("added while three entries are open")],
      ["d-empty", Buffer.alloc(0)],
      ["last", randomBytes(400 * 1024)],
    ]);
    const content = (name: string) => contents.get(name) as Buffer;
    expect(await zip.addBytes("first", content("first"))).toBe(30 + "first".length);
    const open = [
      await openChunked(zip, "a-big", content("a-big"), 256 * 1024),
      await openChunked(zip, "b-mid", content("b-mid"), 64 * 1024),
      await openChunked(zip, "c-tiny", content("c-tiny"), 3),
    ];
    // Each entry's data is contiguous right after its local header, regions back to back.
    expect(open.map((e) => e.entry.dataOffset)).toEqual([
      30 + "first".length + 11 + 30 + "a-big".length,
      30 + "first".length + 11 + 30 + 5 + MiB + MiB / 2 + 7 + 30 + "b-mid".length,
      30 + "first".length + 11 + 30 + 5 + MiB + MiB / 2 + 7 + 30 + 5 + 300 * 1024 + 1 + 36,
    ]);
    await Promise.all([writeRoundRobin(open), zip.addBytes("middle", content("middle"))]);
    const empty = await zip.beginEntry("d-empty", 0);
    // Finished in another order than they were begun.
    await empty.finish();
    for (const e of [...open].reverse()) await e.entry.finish();
    await zip.addBytes("last", content("last"));
    await zip.finish();

    expect(run("unzip", ["-tq", file]).code).toBe(0);
    const py = run("python3", ["-c", pythonDigests, file]);
    expect(py.code, py.stderr).toBe(0);
    expect(py.stdout.trim().split("\n")).toEqual(
      [...contents].map(([name, bytes]) => `${name} ${bytes.length} ${sha(bytes)}`),
    );
    const report = await checkHeaders(file);
    expect(report.problems).toEqual([]);
    expect(report.headers.map((h) => h.name.toString("utf8"))).toEqual([...contents.keys()]);
    const offsets = report.headers.map(
      (h) => report.entries.get(h.name.toString("utf8"))?.localHeaderOffset,
    );
    expect(offsets).toEqual([...(offsets as number[])].sort((x, y) => x - y));
    const source = await FileRandomAccess.open(file);
    try {
      for (const [name, bytes] of contents) {
        const entry = report.entries.get(name);
        expect(entry?.crc32).toBe(crc32(bytes));
        const data = await readAt(source, entry?.dataStart ?? -1, bytes.length);
        expect(data.equals(bytes), name).toBe(true);
      }
    } finally {
      await source.close();
    }

    // A sequential writer given the same entries in the same order writes the same bytes.
    const again = path.join(tmp.dir, "sequential.zip");
    const sequential = ZipWriter.onOutput(await sequentialFileOutput(again), when);
    expect(sequential.concurrentEntries).toBe(false);
    for (const [name, bytes] of contents) await writeReused(sequential, name, bytes, 64 * 1024);
    await sequential.finish();
    expect(readFileSync(again).equals(readFileSync(file))).toBe(true);
  });

  it("finish refuses while an entry is open, and works once it is finished", async () => {
    const file = path.join(tmp.dir, "open-at-finish.zip");
    const zip = await ZipWriter.create(file, when);
    const a = await zip.beginEntry("a", 4);
    const b = await zip.beginEntry("b", 2);
    await a.write(Buffer.from("abcd"));
    await a.finish();
    await expect(zip.finish()).rejects.toThrow(/entry b is still being written/);
    await b.write(Buffer.from("xy"));
    await expect(b.write(Buffer.from("z"))).rejects.toMatchObject({ code: "ESIZE" });
    await b.discard();
    await expect(zip.finish()).rejects.toThrow(/entry b failed/);
    await zip.abort();
    expect(filesNamed(tmp.dir, "open-at-finish.zip")).toEqual([]);

    const ok = path.join(tmp.dir, "finish-after.zip");
    const zip2 = await ZipWriter.create(ok, when);
    const c = await zip2.beginEntry("c", 3);
    await expect(zip2.finish()).rejects.toMatchObject({ code: "EINTERNAL" });
    await c.write(Buffer.from("abc"));
    await c.finish();
    await zip2.finish();
    expect(run("unzip", ["-tq", ok]).code).toBe(0);
  });

  it("one write at a time per entry; a discarded entry fails later calls, other open entries may still finish", async () => {
    const file = path.join(tmp.dir, "discard.zip");
    const zip = await ZipWriter.create(file, when);
    const a = await zip.beginEntry("a", 2 * MiB);
    const b = await zip.beginEntry("b", MiB);
    const first = a.write(Buffer.alloc(MiB));
    await expect(a.write(Buffer.alloc(MiB))).rejects.toMatchObject({ code: "EINTERNAL" });
    await Promise.all([first, b.write(Buffer.alloc(MiB, 1))]);
    await a.write(Buffer.alloc(10));
    await a.discard();
    await expect(a.write(Buffer.alloc(1))).rejects.toThrow(/a was discarded/);
    await expect(zip.beginEntry("c", 1)).rejects.toThrow(/a was discarded/);
    await expect(zip.addBytes("c", Buffer.alloc(1))).rejects.toThrow(/a was discarded/);
    await b.finish();
    await expect(zip.finish()).rejects.toThrow(/a was discarded/);
    await zip.abort();
    expect(filesNamed(tmp.dir, "discard.zip")).toEqual([]);
  });
});
