import { Readable } from "node:stream";
import { SizeError } from "../../errors.js";

const READ_SIZE = 1024 * 1024;

/**
 * Reads a stream in pieces of at most N bytes, counting where it is. Reads run one at a time,
 * in order; `settled()` waits for the one in flight (after a request failed mid-body).
 */
export class ByteReader {
  position = 0;
  private leftover: Buffer | undefined;
  private readonly iterator: AsyncIterator<unknown>;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  /** Up to `max` bytes; undefined at the end. The stream's error (its verdict) rejects. */
  read(max: number): Promise<Buffer | undefined> {
    const next = this.busy.then(() => this.readNow(max));
    this.busy = next.catch(() => {});
    return next;
  }

  private async readNow(max: number): Promise<Buffer | undefined> {
    let chunk = this.leftover;
    this.leftover = undefined;
    if (!chunk) {
      const { value, done } = await this.iterator.next();
      if (done) return undefined;
      chunk = Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
    }
    if (chunk.length > max) {
      this.leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.position += chunk.length;
    return chunk;
  }

  async skip(count: number, what: string): Promise<void> {
    let left = count;
    while (left > 0) {
      const chunk = await this.read(Math.min(left, READ_SIZE));
      if (!chunk) throw new SizeError(what, count, count - left);
      left -= chunk.length;
    }
  }

  /** Read to the end: a verifying stream gives its verdict there. */
  async finish(): Promise<void> {
    while (await this.read(4 * READ_SIZE)) {
      // bytes past the point of interest are only hashed by the stream itself
    }
  }

  settled(): Promise<void> {
    return this.busy.then(() => {});
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/** A request body of exactly `length` bytes taken from `reader`. */
export function chunkBody(reader: ByteReader, length: number, what: string): Readable {
  let remaining = length;
  return new Readable({
    highWaterMark: READ_SIZE,
    read() {
      if (remaining === 0) {
        this.push(null);
        return;
      }
      reader.read(Math.min(remaining, READ_SIZE)).then(
        (chunk) => {
          if (!chunk) {
            this.destroy(new SizeError(what, length, length - remaining));
            return;
          }
          remaining -= chunk.length;
          this.push(chunk);
          if (remaining === 0) this.push(null);
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
  });
}
