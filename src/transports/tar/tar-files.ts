import type { Readable } from "node:stream";
import type { FileReader, LayoutFiles } from "../layout/layout-files.js";
import type { TarReader } from "./tar-reader.js";

/** The files of a tar archive seen as layout files (for oci-archive and Docker 25+ archives). */
export class TarFiles implements LayoutFiles {
  readonly label: string;

  constructor(readonly tar: TarReader) {
    this.label = tar.path;
  }

  async readFile(relativePath: string, maxBytes: number): Promise<Buffer | undefined> {
    if (!this.tar.find(relativePath)) return undefined;
    return this.tar.readFile(relativePath, maxBytes);
  }

  async size(relativePath: string): Promise<number | undefined> {
    return this.tar.find(relativePath)?.size;
  }

  openStream(relativePath: string): Promise<Readable> {
    return this.tar.openStream(relativePath);
  }

  /** A member read in place through the tar index (a pread at its offset in the archive). */
  async openReader(relativePath: string): Promise<FileReader> {
    return this.tar.openReader(relativePath);
  }

  async close(): Promise<void> {
    await this.tar.close();
  }
}
