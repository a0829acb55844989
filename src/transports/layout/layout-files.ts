import type { Stats } from "node:fs";
import { type FileHandle, lstat, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import {
  FerryError,
  fromSystemError,
  isFerryError,
  NotFoundError,
  SizeError,
} from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { BlobReader } from "../../types/transport.js";
import {
  describeKind,
  type FileRules,
  NotRegularFileError,
  openRegularFile,
} from "../../util/safe-open.js";

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

/**
 * How an input layout's files are judged: links are followed (the user's folder), but only
 * regular files are read (a FIFO would block, a device would never end).
 */
function inputRules(): FileRules {
  return { code: "EBADIMAGE", followLinks: true };
}

/**
 * Layout files in a directory on disk. Each path must be a regular file: anything else is
 * refused (with `rulesFor`'s code and hint) before a byte is read; the store's rules also
 * refuse symbolic links.
 */
export class DirectoryFiles implements LayoutFiles {
  readonly label: string;

  constructor(
    readonly root: string,
    private readonly rulesFor: (relativePath: string) => FileRules = inputRules,
  ) {
    this.label = root;
  }

  private resolve(relativePath: string): string {
    return path.join(this.root, ...relativePath.split("/"));
  }

  async readFile(relativePath: string, maxBytes: number): Promise<Buffer | undefined> {
    const file = this.resolve(relativePath);
    let opened: Awaited<ReturnType<typeof openRegularFile>>;
    try {
      opened = await openRegularFile(file, this.rulesFor(relativePath));
    } catch (error) {
      if (isFerryError(error) && error.code === "ENOTFOUND") return undefined;
      throw error;
    }
    const { handle, info } = opened;
    try {
      if (info.size > maxBytes) {
        throw new FerryError(
          "EBADIMAGE",
          `${file} is ${info.size} bytes, more than the ${maxBytes} allowed`,
        );
      }
      return await handle.readFile();
    } catch (error) {
      throw fromSystemError(error, file, "reading");
    } finally {
      await handle.close();
    }
  }

  /** The file's size, or undefined when absent; a path that is not a regular file is refused. */
  async size(relativePath: string): Promise<number | undefined> {
    const file = this.resolve(relativePath);
    const rules = this.rulesFor(relativePath);
    let info: Stats;
    try {
      info = rules.followLinks ? await stat(file) : await lstat(file);
    } catch {
      return undefined;
    }
    if (!info.isFile()) throw new NotRegularFileError(file, describeKind(info), rules);
    return info.size;
  }

  private async openExisting(relativePath: string): Promise<{ handle: FileHandle; size: number }> {
    const file = this.resolve(relativePath);
    try {
      const { handle, info } = await openRegularFile(file, this.rulesFor(relativePath));
      return { handle, size: info.size };
    } catch (error) {
      if (isFerryError(error) && error.code === "ENOTFOUND") {
        throw new NotFoundError(`${file} is missing`);
      }
      throw error;
    }
  }

  async openStream(relativePath: string): Promise<Readable> {
    const { handle } = await this.openExisting(relativePath);
    return handle.createReadStream({ highWaterMark: READ_CHUNK });
  }

  /** The file read in place with pread: no stream, no per-chunk allocation. */
  async openReader(relativePath: string): Promise<FileReader> {
    const file = this.resolve(relativePath);
    const { handle, size } = await this.openExisting(relativePath);
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
