import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { fromSystemError } from "../errors.js";
import { type Digest, digestFromHex } from "../types/digest.js";

const READ_CHUNK = 1024 * 1024;

/**
 * A download in progress: bytes appended at the end of a file, hashed as they are written,
 * so the digest of a finished download costs nothing extra. Opening an existing partial
 * hashes what is already there (a resumed download reads its prefix once, from disk).
 */
export class PartialFile {
  private hash: Hash = createHash("sha256");

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private bytes: number,
  ) {}

  /** Open (or create) a partial; `resume` keeps and hashes existing bytes up to `limit`. */
  static async open(file: string, resume: boolean, limit: number): Promise<PartialFile> {
    let handle: FileHandle;
    try {
      handle = await open(file, resume ? "a+" : "w+", 0o644);
    } catch (error) {
      throw fromSystemError(error, file, "opening");
    }
    const partial = new PartialFile(file, handle, 0);
    try {
      const size = resume ? (await handle.stat()).size : 0;
      if (size > limit) await partial.reset();
      else await partial.hashExisting(size);
    } catch (error) {
      await handle.close().catch(() => {});
      throw fromSystemError(error, file, "reading");
    }
    return partial;
  }

  private async hashExisting(size: number): Promise<void> {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(1, size)));
    let position = 0;
    while (position < size) {
      const { bytesRead } = await this.handle.read(
        buffer,
        0,
        Math.min(buffer.length, size - position),
        position,
      );
      if (bytesRead === 0) break;
      this.hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    this.bytes = position;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.bytes;
  }

  /** Append chunks (one gathered write, no copying) and hash them. */
  async append(chunks: Buffer[]): Promise<void> {
    let pending = chunks.filter((chunk) => chunk.length > 0);
    try {
      while (pending.length > 0) {
        const { bytesWritten } = await this.handle.writev(pending, this.bytes);
        let done = bytesWritten;
        while (done > 0 && pending.length > 0) {
          const first = pending[0] as Buffer;
          const used = Math.min(done, first.length);
          this.hash.update(first.subarray(0, used));
          this.bytes += used;
          done -= used;
          pending =
            used === first.length ? pending.slice(1) : [first.subarray(used), ...pending.slice(1)];
        }
      }
    } catch (error) {
      throw fromSystemError(error, this.path, "writing");
    }
  }

  /** Throw away everything (the server ignored a Range request, or the bytes were wrong). */
  async reset(): Promise<void> {
    await this.handle.truncate(0);
    this.hash = createHash("sha256");
    this.bytes = 0;
  }

  /** The digest of the bytes written (ends the hash: call once, when complete). */
  digest(): Digest {
    return digestFromHex(this.hash.digest("hex"));
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}
