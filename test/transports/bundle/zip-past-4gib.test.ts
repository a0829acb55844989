import { createHash, randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { type FileHandle, open, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFully } from "../../../src/transports/bundle/random-access.js";
import { MAX32 } from "../../../src/transports/bundle/zip-format.js";
import {
  type ZipEntryWriter,
  type ZipFinished,
  type ZipOutput,
  ZipWriter,
} from "../../../src/transports/bundle/zip-writer.js";
import { run, tempDir } from "../../helpers/cli.js";
import { checkHeaders } from "./zip-headers.js";

const GiB = 1024 ** 3;
/** The all-zero buffer the big entries are written from: its writes become holes. */
const ZEROS = Buffer.alloc(16 * 1024 * 1024);

/**
 * A file output that skips every write of ZEROS (leaving a sparse hole, which reads back as
 * zeros), so a zip with entries past 4 GiB costs a few MiB of disk and no 4 GiB of writes.
 * Positional or not, to test the writer's concurrent entries as well as one at a time.
 */
class SparseOutput implements ZipOutput {
  skipped = 0;

  private constructor(
    readonly target: string,
    private readonly handle: FileHandle,
    readonly positional: boolean,
  ) {}

  static async create(target: string, positional: boolean): Promise<SparseOutput> {
    return new SparseOutput(target, await open(target, "wx"), positional);
  }

  async write(buffer: Uint8Array, position: number): Promise<void> {
    if (buffer.buffer === ZEROS.buffer) {
      this.skipped += buffer.length;
      return;
    }
    await writeFully(this.handle, buffer, position);
  }

  settle(): void {}

  async commit(size: number): Promise<ZipFinished> {
    await this.handle.truncate(size);
    await this.handle.close();
    return { size };
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(this.target, { force: true });
  }
}

async function writeZeros(entry: ZipEntryWriter, size: number): Promise<void> {
  for (let left = size; left > 0; left -= ZEROS.length) {
    await entry.write(ZEROS, Math.min(left, ZEROS.length));
  }
  await entry.finish();
}

async function addZeros(zip: ZipWriter, name: string, size: number): Promise<void> {
  await writeZeros(await zip.beginEntry(name, size), size);
}

/** Reads the named (small) members in full and the first bytes of the big ones. */
const pythonRead = `
import sys, zipfile, hashlib, json
z = zipfile.ZipFile(sys.argv[1])
out = {}
for name in sys.argv[2].split(","):
    out[name] = hashlib.sha256(z.read(name)).hexdigest()
for name in sys.argv[3].split(","):
    with z.open(name) as f:
        out[name] = f.read(16).hex()
out["sizes"] = {i.filename: i.file_size for i in z.infolist()}
print(json.dumps(out))
`;

describe("zip entries past 4 GiB (sparse archive)", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it.each([
    ["one entry at a time", false],
    ["concurrent entries", true],
  ])(
    "%s: entries starting past 4 GiB and entries of 4 GiB or more: strict checks, Python and unzip agree",
    async (_mode, positional) => {
      const file = path.join(tmp.dir, `past-4gib-${positional ? "concurrent" : "sequential"}.zip`);
      const output = await SparseOutput.create(file, positional);
      const zip = ZipWriter.onOutput(output, new Date("2026-01-01T00:00:00Z"));
      expect(zip.concurrentEntries).toBe(positional);
      // Small entries (one gathered, one written straight out) that start past 4 GiB.
      const small = new Map<string, Buffer>([
        ["after-1", randomBytes(100)],
        ["after-2", randomBytes(300 * 1024)],
        ["after-3", randomBytes(5000)],
      ]);
      const bigFirst = 4 * GiB + 1234;
      // Exactly 0xffffffff bytes, the value that in a 32-bit field means "see zip64", starting
      // past 4 GiB (its central zip64 field holds both sizes and the offset). It is the last
      // entry because unzip 6.0 misreads the zip64 field of any entry that follows an entry of
      // exactly this size (getZip64Data tests the previous entry's stale local size against
      // 0xffffffff); Python and ferry's reader do not.
      const bigSecond = MAX32;
      if (positional) {
        // after-1 is placed behind big-first while big-first is still open: its local header
        // (written before big-first's data) starts past 4 GiB.
        const big = await zip.beginEntry("big-first", bigFirst);
        expect(zip.size).toBeGreaterThan(4 * GiB);
        await zip.addBytes("after-1", small.get("after-1") as Buffer);
        await writeZeros(big, bigFirst);
        for (const [name, bytes] of small) if (name !== "after-1") await zip.addBytes(name, bytes);
      } else {
        await addZeros(zip, "big-first", bigFirst);
        expect(zip.size).toBeGreaterThan(4 * GiB);
        for (const [name, bytes] of small) await zip.addBytes(name, bytes);
      }
      await addZeros(zip, "big-second", bigSecond);
      const finished = await zip.finish();
      expect(finished.size).toBeGreaterThan(8 * GiB);
      expect(statSync(file).size).toBe(finished.size);
      expect(output.skipped).toBeGreaterThan(8 * GiB - 64 * 1024 * 1024);
      expect(statSync(file).blocks * 512).toBeLessThan(256 * 1024 * 1024);

      // The bundle reader's checks: every local header repeats its central header (version
      // needed included: zip64 for an entry that starts past 4 GiB), data within bounds.
      const report = await checkHeaders(file);
      expect(report.problems).toEqual([]);
      const offsets = Object.fromEntries(
        [...report.entries.values()].map((e) => [e.name, e.localHeaderOffset]),
      );
      for (const name of [...small.keys(), "big-second"]) {
        expect(offsets[name]).toBeGreaterThan(MAX32);
      }
      expect(report.entries.get("big-first")?.size).toBe(bigFirst);
      expect(report.entries.get("big-second")?.size).toBe(bigSecond);

      // Python reads each small entry after the hole (checking its local header and CRC) and
      // opens the big ones (their local headers, with zip64 extra fields).
      const py = run("python3", [
        "-c",
        pythonRead,
        file,
        [...small.keys()].join(","),
        "big-first,big-second",
      ]);
      expect(py.code, py.stderr).toBe(0);
      const read = JSON.parse(py.stdout);
      for (const [name, bytes] of small) {
        expect(read[name]).toBe(createHash("sha256").update(bytes).digest("hex"));
      }
      expect(read["big-first"]).toBe("00".repeat(16));
      expect(read["big-second"]).toBe("00".repeat(16));
      expect(read.sizes).toEqual({
        "big-first": bigFirst,
        ...Object.fromEntries([...small].map(([name, bytes]) => [name, bytes.length])),
        "big-second": bigSecond,
      });

      // unzip lists the sizes from the zip64 records and tests the small members past 4 GiB.
      const listing = run("unzip", ["-l", file]);
      expect(listing.code, listing.stderr).toBe(0);
      const listed = Object.fromEntries(
        [...listing.stdout.matchAll(/^\s*(\d+)\s+\S+\s+\S+\s+(\S+)$/gm)].map((m) => [
          m[2],
          Number(m[1]),
        ]),
      );
      expect(listed).toEqual(read.sizes);
      const tested = run("unzip", ["-tq", file, ...small.keys()]);
      expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    },
    180_000,
  );
});
