/**
 * Random access to the members of a tar archive (docker-archive, oci-archive) without
 * extracting it: the headers are indexed once, then any entry is served by byte range.
 */

import { once } from "node:events";
import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { Readable } from "node:stream";
import { FerryError, fromSystemError, NotFoundError } from "../../errors.js";
import type { BlobReader } from "../../types/transport.js";
import { bytesAt, handleReads } from "../../util/positional-read.js";
import { scanTar, type TarEntry, TarIndex, type TarSource } from "./tar-index.js";

export type { TarEntry, TarEntryType } from "./tar-index.js";

/** `readFile` refuses entries larger than this unless told otherwise. */
export const DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024;

/** Chunk size of the streams returned by `openStream`. */
export const STREAM_HIGH_WATER_MARK = 1024 * 1024;

/** A tar archive on disk, indexed by its headers, read by byte range. */
export class TarReader {
  /** The archive's path, as given to `open`. */
  readonly path: string;
  private readonly handle: FileHandle;
  private readonly index: TarIndex;
  private closed = false;

  private constructor(path: string, handle: FileHandle, index: TarIndex) {
    this.path = path;
    this.handle = handle;
    this.index = index;
  }

  /**
   * Open an archive and index it by scanning its headers once (file data is never read).
   * Throws FerryError "EBADIMAGE" for a corrupt or truncated tar, NotFoundError when the
   * file does not exist.
   */
  static async open(path: string): Promise<TarReader> {
    const handle = await open(path, "r").catch((error: unknown) => {
      throw fromSystemError(error, path, "opening tar archive");
    });
    try {
      const { size } = await handle.stat();
      const entries = await scanTar(fileSource(path, handle, size));
      return new TarReader(path, handle, new TarIndex(entries));
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw fromSystemError(error, path, "reading tar archive");
    }
  }

  /** Every entry, in archive order (duplicates included), with normalized names. */
  entries(): TarEntry[] {
    return [...this.index.entries];
  }

  /**
   * The regular-file entry for a name, following symlinks (relative to the link's
   * directory) and hardlinks inside the archive, at most 16 hops; undefined when absent.
   */
  find(name: string): TarEntry | undefined {
    return this.index.find(name);
  }

  /**
   * The whole content of an entry (meant for small JSON files). NotFoundError when absent;
   * FerryError "EBADIMAGE" when the entry is larger than `maxBytes` (default 64 MiB).
   */
  async readFile(name: string, maxBytes: number = DEFAULT_MAX_READ_BYTES): Promise<Buffer> {
    const entry = this.require(name);
    if (entry.size > maxBytes) throw this.tooLarge(name, entry, maxBytes);
    const data = await readAt(this.handle, entry.dataOffset, entry.size).catch((error: unknown) => {
      throw fromSystemError(error, this.path, "reading tar archive");
    });
    if (data.length < entry.size) throw this.shrunk(entry);
    return data;
  }

  /** A stream of an entry's bytes (1 MiB chunks). NotFoundError when absent. */
  async openStream(name: string): Promise<Readable> {
    const entry = this.require(name);
    if (entry.size === 0) return emptyStream();
    const stream = createReadStream(this.path, {
      start: entry.dataOffset,
      end: entry.dataOffset + entry.size - 1,
      highWaterMark: STREAM_HIGH_WATER_MARK,
    });
    try {
      await once(stream, "ready");
    } catch (error) {
      stream.destroy();
      throw fromSystemError(error, this.path, "reading tar archive");
    }
    return stream;
  }

  /**
   * Positional reads of an entry's bytes on the archive's own handle (nothing is opened, so
   * nothing to close): positions are relative to the entry, reads stop at its end. Meant for
   * the engine's verified pump; reads after the archive's close() fail.
   */
  openReader(name: string): { size: number } & BlobReader {
    const entry = this.require(name);
    const { dataOffset, size } = entry;
    return {
      size,
      read: async (buffer, offset, length, position) => {
        const wanted = Math.max(0, Math.min(length, size - position));
        if (wanted === 0) return 0;
        try {
          const { bytesRead } = await this.handle.read(
            buffer,
            offset,
            wanted,
            dataOffset + position,
          );
          return bytesRead;
        } catch (error) {
          throw fromSystemError(error, this.path, "reading tar archive");
        }
      },
      close: async () => {},
    };
  }

  /** Release the file handle. Streams already opened keep working. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  private require(name: string): TarEntry {
    if (this.closed) {
      throw new FerryError("EINTERNAL", `${this.path}: tar archive read after close()`);
    }
    const entry = this.index.find(name);
    if (!entry) {
      throw new NotFoundError(`${this.path}: no file named "${name}" in the tar archive`, {
        details: { archive: this.path, entry: name },
      });
    }
    return entry;
  }

  private tooLarge(name: string, entry: TarEntry, maxBytes: number): FerryError {
    return new FerryError(
      "EBADIMAGE",
      `${this.path}: entry "${name}"${describeLink(name, entry)} is ${entry.size} bytes, more than the ${maxBytes} allowed`,
      { details: { archive: this.path, entry: name, size: entry.size, maxBytes } },
    );
  }

  private shrunk(entry: TarEntry): FerryError {
    return new FerryError(
      "EBADIMAGE",
      `${this.path}: the tar is truncated: entry "${entry.name}" ends beyond the end of the file (did it change after it was opened?)`,
      { details: { archive: this.path, entry: entry.name } },
    );
  }
}

/** " (resolved to "x")" when a lookup went through links, so messages name both ends. */
function describeLink(requested: string, entry: TarEntry): string {
  return entry.name === requested ? "" : ` (resolved to "${entry.name}")`;
}

function fileSource(path: string, handle: FileHandle, size: number): TarSource {
  return { path, size, readAt: (position, length) => readAt(handle, position, length) };
}

/** Read `length` bytes at `position`, fewer only at end of file. */
function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  return bytesAt(handleReads(handle), position, length);
}

function emptyStream(): Readable {
  return new Readable({
    read() {
      this.push(null);
    },
  });
}
