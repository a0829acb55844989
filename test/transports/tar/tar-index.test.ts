import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BLOCK_SIZE } from "../../../src/transports/tar/tar-header.js";
import {
  isContainedName,
  normalizeTarName,
  scanTar,
  type TarEntry,
  TarIndex,
  type TarSource,
} from "../../../src/transports/tar/tar-index.js";
import { TarReader } from "../../../src/transports/tar/tar-reader.js";

/** A header block with a valid checksum (GNU magic unless told otherwise). */
function header(name: string, size: number, typeFlag = "0", linkName = ""): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  block.write(name, 0, 100, "utf8");
  block.write("0000644\0", 100, "latin1");
  block.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  block.write("00000000000\0", 136, "latin1");
  block.write(typeFlag, 156, "latin1");
  block.write(linkName, 157, 100, "utf8");
  block.write("ustar  \0", 257, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

function data(content: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const padded = Buffer.alloc(Math.ceil(bytes.length / BLOCK_SIZE) * BLOCK_SIZE);
  bytes.copy(padded);
  return padded;
}

function member(name: string, content: string, typeFlag = "0"): Buffer[] {
  return [header(name, Buffer.byteLength(content), typeFlag), data(content)];
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return `${length}${body}`;
}

function bufferSource(archive: Buffer): TarSource {
  return {
    path: "/mem/test.tar",
    size: archive.length,
    readAt: async (position, length) => archive.subarray(position, position + length),
  };
}

function scan(parts: Buffer[]): Promise<TarEntry[]> {
  return scanTar(bufferSource(Buffer.concat(parts)));
}

const END = Buffer.alloc(2 * BLOCK_SIZE);

describe("scanTar", () => {
  it("locates each entry's data and stops at two zero blocks", async () => {
    const entries = await scan([...member("./a.txt", "hello"), ...member("b.txt", "x"), END]);
    expect(entries.map((entry) => [entry.name, entry.size, entry.dataOffset])).toEqual([
      ["a.txt", 5, 512],
      ["b.txt", 1, 1536],
    ]);
  });

  it("accepts end of file right after the last entry, or a single zero block", async () => {
    const parts = member("a.txt", "hello");
    expect(await scan(parts)).toHaveLength(1);
    expect(await scan([...parts, Buffer.alloc(BLOCK_SIZE)])).toHaveLength(1);
  });

  it("applies PAX path/size and skips global headers", async () => {
    const longName = `${"d".repeat(150)}/file.txt`;
    const pax = Buffer.from(paxRecord("path", longName) + paxRecord("size", "3"));
    const global = Buffer.from(paxRecord("comment", "hello"));
    const entries = await scan([
      header("pax_global_header", global.length, "g"),
      data(global),
      header("PaxHeaders/x", pax.length, "x"),
      data(pax),
      header("truncated-name", 0),
      data("abc"),
      END,
    ]);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ name: longName, size: 3, dataOffset: 5 * BLOCK_SIZE });
  });

  it("applies GNU long names and long links", async () => {
    const name = `${"n".repeat(200)}`;
    const link = `${"l".repeat(180)}`;
    const entries = await scan([
      header("././@LongLink", name.length + 1, "L"),
      data(`${name}\0`),
      header("././@LongLink", link.length + 1, "K"),
      data(`${link}\0`),
      header(name.slice(0, 99), 0, "2", link.slice(0, 99)),
      END,
    ]);
    expect(entries[0]).toMatchObject({ name, type: "symlink", linkName: link });
  });

  it("gives link, directory and device entries no data even when the size field says otherwise", async () => {
    const entries = await scan([
      header("dir/", 0, "5"),
      header("hard", 4096, "1", "./dir/../a"),
      ...member("a", "payload"),
      END,
    ]);
    expect(entries.map((entry) => [entry.name, entry.type, entry.size])).toEqual([
      ["dir", "directory", 0],
      ["hard", "hardlink", 0],
      ["a", "file", 7],
    ]);
    expect(entries[1]?.linkName).toBe("a");
  });

  it("reports a truncated archive, naming the entry", async () => {
    const archive = Buffer.concat([header("layer.tar", 4096), Buffer.alloc(100)]);
    await expect(scanTar(bufferSource(archive))).rejects.toThrow(
      /tar is truncated: entry "layer.tar"/,
    );
  });

  it("skips data by a base-256 size (entries of 8 GiB and more)", async () => {
    const huge = header("huge.layer", 0);
    huge.fill(0, 124, 136);
    huge[124] = 0x80;
    huge[131] = 0x02; // 2 ** 33 = 8 GiB
    huge.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of huge) sum += byte;
    huge.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    const archive = Buffer.concat([huge, Buffer.alloc(BLOCK_SIZE)]);
    const entries = await scanTar({ ...bufferSource(archive), size: 2 ** 33 + 2 * BLOCK_SIZE });
    expect(entries).toEqual([expect.objectContaining({ name: "huge.layer", size: 2 ** 33 })]);
    await expect(scanTar(bufferSource(archive))).rejects.toThrow(/truncated: entry "huge.layer"/);
  });

  it("reports a partial header", async () => {
    const archive = Buffer.concat([...member("a", "x"), header("b", 0).subarray(0, 100)]);
    await expect(scanTar(bufferSource(archive))).rejects.toThrow(/truncated: partial header/);
  });

  it("reports an extended header with no entry after it", async () => {
    const pax = Buffer.from(paxRecord("path", "x"));
    await expect(scan([header("PaxHeaders/x", pax.length, "x"), data(pax)])).rejects.toThrow(
      /not followed by an entry/,
    );
  });

  it("refuses oversized extended headers", async () => {
    const archive = Buffer.concat([header("PaxHeaders/x", 8 * 1024 * 1024, "x")]);
    const source = { ...bufferSource(archive), size: 9 * 1024 * 1024 };
    await expect(scanTar(source)).rejects.toThrow(/exceeds/);
  });
});

describe("normalizeTarName", () => {
  it.each([
    ["./manifest.json", "manifest.json"],
    ["a//b", "a/b"],
    ["a/./b/", "a/b"],
    ["./", "."],
    ["a/../b", "b"],
    ["a/../../b", "../b"],
    ["/etc/passwd", "/etc/passwd"],
    ["/../etc", "/etc"],
  ])("%s -> %s", (raw, normalized) => {
    expect(normalizeTarName(raw)).toBe(normalized);
  });

  it("tells contained names from escaping ones", () => {
    expect(isContainedName("a/b")).toBe(true);
    expect(isContainedName("..a")).toBe(true);
    expect(isContainedName("../b")).toBe(false);
    expect(isContainedName("..")).toBe(false);
    expect(isContainedName("/etc")).toBe(false);
  });
});

describe("TarIndex.find", () => {
  function entry(name: string, type: TarEntry["type"], linkName?: string): TarEntry {
    return { name, type, size: 1, dataOffset: 0, mode: 0o644, mtime: 0, linkName };
  }

  const index = new TarIndex([
    entry("blobs/sha256/abc", "file"),
    entry("id/layer.tar", "symlink", "../blobs/sha256/abc"),
    entry("hop1", "symlink", "hop2"),
    entry("hop2", "symlink", "./id/layer.tar"),
    entry("dirlink", "symlink", "blobs/sha256"),
    entry("hard", "hardlink", "blobs/sha256/abc"),
    entry("loop-a", "symlink", "loop-b"),
    entry("loop-b", "symlink", "loop-a"),
    entry("escape", "symlink", "../../etc/passwd"),
    entry("absolute", "symlink", "/blobs/sha256/abc"),
    entry("../outside", "file"),
    entry("/etc/passwd", "file"),
    entry("blobs", "directory"),
  ]);

  it("follows symlinks relative to the link's directory, hardlinks from the root", () => {
    expect(index.find("id/layer.tar")?.name).toBe("blobs/sha256/abc");
    expect(index.find("./hop1")?.name).toBe("blobs/sha256/abc");
    expect(index.find("dirlink/abc")?.name).toBe("blobs/sha256/abc");
    expect(index.find("hard")?.name).toBe("blobs/sha256/abc");
  });

  it("gives up on loops, escapes and absolute targets", () => {
    expect(index.find("loop-a")).toBeUndefined();
    expect(index.find("escape")).toBeUndefined();
    expect(index.find("absolute")).toBeUndefined();
  });

  it("never matches escaping or absolute member names", () => {
    expect(index.find("../outside")).toBeUndefined();
    expect(index.find("outside")).toBeUndefined();
    expect(index.find("/etc/passwd")).toBeUndefined();
    expect(index.find("etc/passwd")).toBeUndefined();
  });

  it("returns only regular files", () => {
    expect(index.find("blobs")).toBeUndefined();
    expect(index.find("missing")).toBeUndefined();
  });

  it("stops after 16 hops", () => {
    const chain = (length: number) =>
      new TarIndex([
        entry("target", "file"),
        ...Array.from({ length }, (_, i) =>
          entry(`link${i}`, "symlink", i === length - 1 ? "target" : `link${i + 1}`),
        ),
      ]);
    expect(chain(16).find("link0")?.name).toBe("target");
    expect(chain(17).find("link0")).toBeUndefined();
  });

  it("lets later entries replace earlier ones", () => {
    const replaced = new TarIndex([
      { ...entry("a", "file"), dataOffset: 512 },
      { ...entry("a", "file"), dataOffset: 2048 },
    ]);
    expect(replaced.find("a")?.dataOffset).toBe(2048);
  });
});

describe("indexing many entries", () => {
  // What keeps indexing fast is checked by its reads, not by a clock (speed is bench/'s job):
  // one header block per entry and the end block, never a byte of file data.
  it("reads each header once and no file data, for thousands of entries", async () => {
    const count = 5000;
    const content = "x".repeat(3000);
    const archive = Buffer.concat([
      ...Array.from({ length: count }, (_, i) => member(`dir/file-${i}.txt`, content)).flat(),
      END,
    ]);
    const reads: Array<{ position: number; length: number }> = [];
    const source = bufferSource(archive);
    const entries = await scanTar({
      ...source,
      readAt: (position, length) => {
        reads.push({ position, length });
        return source.readAt(position, length);
      },
    });
    expect(entries).toHaveLength(count);
    expect(reads).toHaveLength(count + 1);
    expect(reads.every((read) => read.length === BLOCK_SIZE)).toBe(true);
    const dataRegions = entries.map((entry) => [entry.dataOffset, entry.dataOffset + entry.size]);
    const headerOffsets = new Set(entries.map((entry) => entry.dataOffset - BLOCK_SIZE));
    for (const read of reads.slice(0, count)) expect(headerOffsets.has(read.position)).toBe(true);
    expect(
      reads.filter((read) =>
        dataRegions.some(([from = 0, to = 0]) => read.position >= from && read.position < to),
      ),
    ).toEqual([]);
  });

  it("opens a tar of thousands of entries from disk and finds the last one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-tar-many-"));
    try {
      const count = 5000;
      const members = Array.from({ length: count }, (_, i) => member(`dir/file-${i}.txt`, `#${i}`));
      const path = join(dir, "many.tar");
      writeFileSync(path, Buffer.concat([...members.flat(), END]));
      const reader = await TarReader.open(path);
      expect(reader.entries()).toHaveLength(count);
      expect((await reader.readFile("dir/file-4999.txt")).toString()).toBe("#4999");
      await reader.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
