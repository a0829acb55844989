import { type FileHandle, open, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { FerryError, fromSystemError, NotFoundError, SizeError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { BlobReader } from "../../types/transport.js";

/**
 * The files of an OCI image layout, wherever they live: a directory, a tar archive
 * (oci-archive, Docker 25+ `docker save`), so one layout reader serves them all.
 * Paths are layout-relative with forward slashes (`index.json`, `blobs/sha256/<hex>`).
 */
export interface LayoutFiles {
  readonly label: string;
  /** The file's bytes, or undefined when absent. Larger than maxBytes: EBADIMAGE. */
  readFile(relativePath: string, maxBytes: number): Promise<Buffer | undefined>;
  /** The file's size, or undefined when absent. */
  size(relativePath: string): Promise<number | undefined>;
  openStream(relativePath: string): Promise<Readable>;
  /**
   * Positional reads of a file, where the medium allows them cheaply (a file on disk, a tar
   * member at a known offset): the engine's verified pump then copies it through reused
   * buffers instead of a stream. NotFoundError when absent.
   */
  openReader?(relativePath: string): Promise<FileReader>;
  close(): Promise<void>;
}

/** Positional reads of one file, and the size it had when opened. */
export interface FileReader extends BlobReader {
  readonly size: number;
}

/**
 * A blob file's reader, refused up front (ESIZE, the reader closed) when the file's size is
 * not the descriptor's: the stream path would find the same at its end, after the bytes went
 * downstream.
 */
export async function sizedBlobReader(
  reader: FileReader,
  descriptor: Descriptor,
  where: string,
): Promise<FileReader> {
  if (reader.size === descriptor.size) return reader;
  await reader.close().catch(() => {});
  throw new SizeError(`blob ${descriptor.digest} in ${where}`, descriptor.size, reader.size, {
    details: { digest: descriptor.digest },
  });
}

/** Read with 1 MiB requests: hashing keeps up and syscalls stay few. */
export const READ_CHUNK = 1024 * 1024;

/** Layout files in a directory on disk. */
export class DirectoryFiles implements LayoutFiles {
  readonly label: string;

  constructor(readonly root: string) {
    this.label = root;
  }

  private resolve(relativePath: string): string {
    return path.join(this.root, ...relativePath.split("/"));
  }

  async readFile(relativePath: string, maxBytes: number): Promise<Buffer | undefined> {
    const file = this.resolve(relativePath);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(file, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw fromSystemError(error, file, "reading");
    }
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) {
        throw new FerryError(
          "EBADIMAGE",
          `${file} is ${size} bytes, more than the ${maxBytes} allowed`,
        );
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async size(relativePath: string): Promise<number | undefined> {
    try {
      const info = await stat(this.resolve(relativePath));
      return info.isFile() ? info.size : undefined;
    } catch {
      return undefined;
    }
  }

  private async openExisting(file: string): Promise<FileHandle> {
    return open(file, "r").catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new NotFoundError(`${file} is missing`);
      }
      throw fromSystemError(error, file, "reading");
    });
  }

  async openStream(relativePath: string): Promise<Readable> {
    const file = this.resolve(relativePath);
    const handle = await this.openExisting(file);
    return handle.createReadStream({ highWaterMark: READ_CHUNK });
  }

  /** The file read in place with pread: no stream, no per-chunk allocation. */
  async openReader(relativePath: string): Promise<FileReader> {
    const file = this.resolve(relativePath);
    const handle = await this.openExisting(file);
    let size: number;
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new NotFoundError(`${file} is not a regular file`);
      size = info.size;
    } catch (error) {
      await handle.close().catch(() => {});
      throw fromSystemError(error, file, "reading");
    }
    let closed = false;
    return {
      size,
      read: async (buffer, offset, length, position) => {
        try {
          return (await handle.read(buffer, offset, length, position)).bytesRead;
        } catch (error) {
          throw fromSystemError(error, file, "reading");
        }
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await handle.close();
      },
    };
  }

  async close(): Promise<void> {}
}
