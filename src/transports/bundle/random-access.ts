import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import { FerryError, fromSystemError } from "../../errors.js";

/** Reads of 1 MiB keep hashing fed and syscalls few. */
export const RANGE_CHUNK = 1024 * 1024;

/**
 * Random access to the bytes of a bundle, whether one file or (later) raw split volumes read
 * in place. Positions are offsets in the whole bundle.
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
export async function readAt(
  source: RandomAccess,
  position: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const n = await source.read(buffer, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** One file on disk. */
export class FileRandomAccess implements RandomAccess {
  private constructor(
    readonly label: string,
    readonly size: number,
    private readonly handle: Awaited<ReturnType<typeof open>>,
  ) {}

  static async open(path: string): Promise<FileRandomAccess> {
    try {
      const handle = await open(path, "r");
      const { size } = await handle.stat();
      return new FileRandomAccess(path, size, handle);
    } catch (error) {
      throw fromSystemError(error, path, "opening");
    }
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buffer, offset, length, position);
    return bytesRead;
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
