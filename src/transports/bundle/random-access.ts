import { type FileHandle, open } from "node:fs/promises";
import { Readable } from "node:stream";
import { FerryError, fromSystemError } from "../../errors.js";
import {
  bytesAt,
  fillFrom,
  handleReads,
  type PositionalRead,
  repeatShort,
} from "../../util/positional-read.js";

/** Reads of 1 MiB keep hashing fed and syscalls few. */
export const RANGE_CHUNK = 1024 * 1024;

/**
 * Random access to the bytes of a bundle, whether one file or raw split volumes read in place
 * (SplitRandomAccess). Positions are offsets in the whole bundle.
 */
export interface RandomAccess {
  readonly label: string;
  readonly size: number;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** A stream of bytes [start, end). */
  createReadStream(start: number, end: number): Readable;
  close(): Promise<void>;
}

/** Read exactly `length` bytes at `position` (fewer only at the end of the data). */
export function readAt(source: RandomAccess, position: number, length: number): Promise<Buffer> {
  return bytesAt((buffer, offset, n, at) => source.read(buffer, offset, n, at), position, length);
}

const BLOCK = 64 * 1024;
const SMALL_READ = 8 * 1024;
const CACHED_BLOCKS = 16;

/**
 * Small reads (zip headers, names, central directory records) served from a few cached
 * 64 KiB blocks: indexing a bundle of 65,000 entries takes a few hundred reads, not 260,000.
 * Large reads (blob data) bypass it. For files that do not change while open.
 */
export class SmallReadCache {
  private readonly blocks = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly size: number,
    private readonly fetch: PositionalRead,
  ) {}

  private block(index: number): Promise<Buffer> {
    let block = this.blocks.get(index);
    if (block) {
      this.blocks.delete(index);
    } else {
      const start = index * BLOCK;
      block = bytesAt(this.fetch, start, Math.min(BLOCK, this.size - start));
      block.catch(() => this.blocks.delete(index));
      if (this.blocks.size >= CACHED_BLOCKS) {
        this.blocks.delete(this.blocks.keys().next().value as number);
      }
    }
    this.blocks.set(index, block);
    return block;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (length > SMALL_READ) return this.fetch(buffer, offset, length, position);
    let done = 0;
    while (done < length && position + done < this.size) {
      const at = position + done;
      const block = await this.block(Math.floor(at / BLOCK));
      const from = at % BLOCK;
      if (from >= block.length) break;
      done += block.copy(buffer, offset + done, from, Math.min(block.length, from + length - done));
    }
    return done;
  }
}

/** One file on disk. */
export class FileRandomAccess implements RandomAccess {
  private readonly cache: SmallReadCache;

  private constructor(
    readonly label: string,
    readonly size: number,
    private readonly handle: Awaited<ReturnType<typeof open>>,
  ) {
    this.cache = new SmallReadCache(size, handleReads(handle));
  }

  static async open(path: string): Promise<FileRandomAccess> {
    try {
      const handle = await open(path, "r");
      const { size } = await handle.stat();
      return new FileRandomAccess(path, size, handle);
    } catch (error) {
      throw fromSystemError(error, path, "opening");
    }
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.cache.read(buffer, offset, length, position);
  }

  createReadStream(start: number, end: number): Readable {
    return new RangeReadStream(this, start, end);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * A stream of bytes [start, end) of any random-access source, read with positional reads of
 * up to 1 MiB: many streams can share one file handle, and nothing ever closes it.
 */
export class RangeReadStream extends Readable {
  private position: number;

  constructor(
    private readonly source: Pick<RandomAccess, "read" | "label">,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: RANGE_CHUNK });
    this.position = start;
  }

  override _read(): void {
    const remaining = this.end - this.position;
    if (remaining <= 0) {
      this.push(null);
      return;
    }
    const length = Math.min(RANGE_CHUNK, remaining);
    const buffer = Buffer.allocUnsafe(length);
    this.source.read(buffer, 0, length, this.position).then(
      (bytesRead) => {
        if (bytesRead === 0) {
          this.destroy(
            new FerryError(
              "EBADBUNDLE",
              `${this.source.label} ends at byte ${this.position}, before the data it declares`,
              {
                hint: "the file is truncated: copy it again from the original",
              },
            ),
          );
          return;
        }
        this.position += bytesRead;
        this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
      },
      (error: unknown) => this.destroy(fromSystemError(error, this.source.label, "reading")),
    );
  }
}

/**
 * Write all of `buffer` at `position` (positional writes may be short; one that writes nothing
 * at all is a bug of the platform, thrown rather than retried forever).
 */
export async function writeFully(
  handle: FileHandle,
  buffer: Uint8Array,
  position: number,
): Promise<void> {
  const written = await repeatShort(
    buffer.length,
    async (done) =>
      (await handle.write(buffer, done, buffer.length - done, position + done)).bytesWritten,
  );
  if (written < buffer.length) {
    throw new Error(`a write at byte ${position + written} wrote nothing`);
  }
}

/**
 * Fill all of `buffer` from `position` of the file `path` (open as `handle`). A file that ends
 * first fails with EBADBUNDLE naming it, with `hint` as what to do.
 */
export async function readFully(
  handle: FileHandle,
  buffer: Buffer,
  position: number,
  path: string,
  hint: string,
): Promise<void> {
  const filled = await fillFrom(handleReads(handle), buffer, position);
  if (filled < buffer.length) {
    throw new FerryError(
      "EBADBUNDLE",
      `${path} ends at byte ${position + filled}, before the ${position + buffer.length} bytes expected`,
      { hint },
    );
  }
}
