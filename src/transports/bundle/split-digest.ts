import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { FerryError, fromSystemError } from "../../errors.js";
import { locatePart } from "../../types/parts.js";
import { alignedBuffer, xorInto, xorVolumes } from "./parity.js";
import { readFully, writeFully } from "./random-access.js";

const CHUNK = 1024 * 1024;
const WRITTEN_SHORT =
  "another program removed or changed the part while ferry wrote it: save again";

export interface VolumeDigest {
  size: number;
  sha256: string;
}

export interface SplitDigests {
  parts: VolumeDigest[];
  parity?: VolumeDigest;
}

/** Parts up to this size have their parity built in memory as they are written. */
export const PARITY_IN_MEMORY = 256 * 1024 * 1024;

/**
 * Hashes split volumes and builds their XOR parity while the archive is still being written.
 * The zip writer settles each entry once its CRC patch is in; the bytes below are then final,
 * and are read back in order (from the page cache: they were just written) and hashed into
 * their part's sha256. So no pass over the parts is needed after the last byte.
 *
 * Parity: for parts up to 256 MiB the XOR accumulates in memory as the bytes are hashed and is
 * written once at the end. Larger parts (fat32: 4 GiB) would need that much memory, and
 * updating a parity file in place would rewrite it once per part on slow media, so their
 * parity is one row-wise pass at the end (each part read once, mostly from the page cache;
 * the parity volume written once).
 */
export class PartDigester {
  private readonly paths: string[] = [];
  private readonly handles: FileHandle[] = [];
  private readonly hashes: Hash[] = [];
  private frontier = 0;
  private readonly data = alignedBuffer(CHUNK + 8);
  /** The parity so far, when it is built in memory. */
  private accumulator: Buffer | undefined;

  constructor(
    private readonly partSize: number,
    private readonly parityPath?: string,
    parityInMemory = PARITY_IN_MEMORY,
  ) {
    if (parityPath && partSize <= parityInMemory) this.accumulator = alignedBuffer(partSize);
  }

  /** Part `index` is being written at `path`. */
  addPart(index: number, path: string): void {
    this.paths[index] = path;
  }

  private async part(index: number): Promise<FileHandle> {
    const existing = this.handles[index];
    if (existing) return existing;
    const path = this.paths[index];
    if (path === undefined) {
      throw new FerryError("EINTERNAL", `split digest: part ${index + 1} was never created`);
    }
    const handle = await open(path, "r").catch((error: unknown) => {
      const failure = fromSystemError(error, path, "reading back");
      throw new FerryError(failure.code, failure.message, { hint: WRITTEN_SHORT, cause: error });
    });
    this.handles[index] = handle;
    this.hashes[index] = createHash("sha256");
    // Earlier parts are complete: close them.
    for (let i = 0; i < index; i++) {
      await this.handles[i]?.close();
      delete this.handles[i];
    }
    return handle;
  }

  /** Hash (and XOR into the in-memory parity) every byte below `position`. */
  async advance(position: number): Promise<void> {
    while (this.frontier < position) {
      const { index, offset } = locatePart(this.frontier, this.partSize);
      const length = Math.min(CHUNK, position - this.frontier, this.partSize - offset);
      const handle = await this.part(index);
      // Read at the parity offset's alignment, so the XOR runs on whole words.
      const shift = offset % 8;
      const data = this.data.subarray(shift, shift + length);
      await readFully(handle, data, offset, this.paths[index] as string, WRITTEN_SHORT);
      this.hashes[index]?.update(data);
      if (this.accumulator) xorInto(this.accumulator.subarray(offset, offset + length), data);
      this.frontier += length;
    }
  }

  /** Catch up to the archive's end; the parts' and parity's sizes and sha256s. */
  async finish(size: number): Promise<SplitDigests> {
    await this.advance(size);
    await this.close();
    const parts = this.hashes.map((hash, index) => ({
      size: Math.min(this.partSize, size - index * this.partSize),
      sha256: hash.digest("hex"),
    }));
    const result: SplitDigests = { parts };
    if (this.parityPath) result.parity = await this.writeParity(parts);
    return result;
  }

  private async writeParity(parts: VolumeDigest[]): Promise<VolumeDigest> {
    const path = this.parityPath as string;
    const size = parts[0]?.size ?? 0;
    const hash = createHash("sha256");
    const output = await open(path, "r+");
    try {
      if (this.accumulator) {
        const parity = this.accumulator.subarray(0, size);
        hash.update(parity);
        await writeFully(output, parity, 0);
        this.accumulator = undefined;
      } else {
        const sources = parts.map((part, index) => ({
          path: this.paths[index] as string,
          size: part.size,
        }));
        await xorVolumes(
          sources,
          size,
          async (chunk, at) => {
            hash.update(chunk);
            await writeFully(output, chunk, at);
          },
          WRITTEN_SHORT,
        );
      }
      await output.datasync();
    } finally {
      await output.close();
    }
    return { size, sha256: hash.digest("hex") };
  }

  async close(): Promise<void> {
    for (const handle of this.handles) await handle?.close().catch(() => {});
    this.handles.length = 0;
  }
}

/**
 * When part hashing (and in-memory parity) runs: `inline` (default) as each entry settles,
 * interleaved with the writer's I/O; `after`: one pass when the archive is complete (tests
 * check both give the same volumes). A worker thread was tried and measured: on this
 * project's 2-core machines it took about 150 ms of hashing per 200 MB off the main thread but
 * cost more CPU than that (thread start, a second module graph), and was no faster end to end.
 */
export type DigestMode = "inline" | "after";

/** What a PartDigester needs. */
export interface DigesterOptions {
  partSize: number;
  parityPath?: string | undefined;
  /** Largest part size whose parity is built in memory (tests set it low). */
  parityInMemory?: number | undefined;
}

/**
 * The split writer's side of a PartDigester: one step at a time on this thread, chained as
 * entries settle; with `after`, nothing until `finish` (a read pass).
 */
export class DigestRunner {
  private readonly digester: PartDigester;
  private readonly eager: boolean;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(options: DigesterOptions, mode: DigestMode = "inline") {
    this.digester = new PartDigester(options.partSize, options.parityPath, options.parityInMemory);
    this.eager = mode !== "after";
  }

  /** Part `index` is being written at `path`. */
  addPart(index: number, path: string): void {
    this.digester.addPart(index, path);
  }

  /** Bytes below `position` are final (fire and forget: errors surface at `finish`). */
  advance(position: number): void {
    if (!this.eager || this.failure) return;
    this.chain = this.chain
      .then(() => this.digester.advance(position))
      .catch((error: unknown) => {
        this.failure ??= error;
      });
  }

  async finish(size: number): Promise<SplitDigests> {
    await this.chain;
    if (this.failure) throw this.failure;
    return this.digester.finish(size);
  }

  async abort(): Promise<void> {
    await this.chain;
    await this.digester.close();
  }
}
