import type { FileHandle } from "node:fs/promises";
import { fromSystemError } from "../errors.js";
import { createOwnFile } from "../util/safe-open.js";

/**
 * A download in progress: bytes appended at the end of a file, in order, from byte 0. It does
 * not hash them: whoever trusts the bytes hashes them as it reads them back (the copy engine,
 * for every blob it takes from the download cache), and only then is the file published into
 * the cache (see `BlobCache.claimPartial`). `onChange` hears every append and reset, so a
 * reader can follow the file as it grows.
 */
export class PartialFile {
  /** Called after every append (new length) and reset (0). */
  onChange: ((length: number) => void) | undefined;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private bytes: number,
  ) {}

  /**
   * Open (or create) a partial; `resume` keeps existing bytes (up to `limit`: a longer file
   * starts over). Nothing is read: the bytes kept are checked by whoever reads the blob.
   */
  static async open(file: string, resume: boolean, limit: number): Promise<PartialFile> {
    let handle: FileHandle;
    try {
      // Never through a link planted at the partial's name, never blocking on a FIFO.
      handle = await createOwnFile(file, 0o644, {
        existing: resume ? "append" : "truncate",
        readable: true,
        umask: true,
        rules: { code: "EIO", hint: "remove it from the download cache: ferry made no such file" },
      });
    } catch (error) {
      throw fromSystemError(error, file, "opening");
    }
    const partial = new PartialFile(file, handle, 0);
    try {
      const size = resume ? (await handle.stat()).size : 0;
      if (size > limit) await partial.reset();
      else partial.bytes = size;
    } catch (error) {
      await handle.close().catch(() => {});
      throw fromSystemError(error, file, "reading");
    }
    return partial;
  }

  /** Bytes written so far (all on disk, from byte 0 on). */
  get length(): number {
    return this.bytes;
  }

  /** Append chunks (one gathered write, no copying). One append at a time. */
  async append(chunks: Buffer[]): Promise<void> {
    let pending = chunks.filter((chunk) => chunk.length > 0);
    if (pending.length === 0) return;
    try {
      while (pending.length > 0) {
        const { bytesWritten } = await this.handle.writev(pending, this.bytes);
        let done = bytesWritten;
        this.bytes += bytesWritten;
        while (done > 0 && pending.length > 0) {
          const first = pending[0] as Buffer;
          const used = Math.min(done, first.length);
          done -= used;
          pending =
            used === first.length ? pending.slice(1) : [first.subarray(used), ...pending.slice(1)];
        }
      }
    } catch (error) {
      throw fromSystemError(error, this.path, "writing");
    } finally {
      this.onChange?.(this.bytes);
    }
  }

  /** Throw away everything (the server ignored a Range request, or sent too much). */
  async reset(): Promise<void> {
    this.bytes = 0;
    this.onChange?.(0);
    await this.handle.truncate(0);
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}
