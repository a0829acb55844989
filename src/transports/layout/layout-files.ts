import { open, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { FerryError, fromSystemError, NotFoundError } from "../../errors.js";

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
  close(): Promise<void>;
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

  async openStream(relativePath: string): Promise<Readable> {
    const file = this.resolve(relativePath);
    const handle = await open(file, "r").catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new NotFoundError(`${file} is missing`);
      }
      throw fromSystemError(error, file, "reading");
    });
    return handle.createReadStream({ highWaterMark: READ_CHUNK });
  }

  async close(): Promise<void> {}
}
