import { ConcurrentZipWriter } from "./concurrent-zip-writer.js";
import { FileOutput } from "./file-output.js";
import { SequentialZipWriter } from "./sequential-zip-writer.js";
import { type SplitOptions, SplitOutput } from "./split-writer.js";
import type { ZipOutput } from "./zip-output.js";

export type { ZipFinished, ZipFinishInfo, ZipOutput } from "./zip-output.js";
export type { ZipEntryWriter } from "./zip-writer-base.js";

/**
 * A STORED-only zip writer for a seekable output. Each entry's size is known up front (blob
 * descriptors carry it), so the local header is complete — with a zip64 extra field when the
 * entry needs one — and carries the CRC-32 computed as the data passed, instead of trailing
 * data descriptors. Streaming readers (bsdtar from a pipe) and central-directory readers
 * (unzip, yauzl, Python) then agree. CRC-32 uses Node's native zlib.crc32.
 *
 * Two writers make the same bytes of the same entries: ConcurrentZipWriter for one file
 * (several entries at once, each into a region reserved for it) and SequentialZipWriter for
 * split volumes (one entry at a time, settled as it completes so the volumes are hashed as
 * they go). Both share the entry life and the archive's tail (zip-writer-base.ts) and the zip
 * records (zip-records.ts).
 */
export type ZipWriter = ConcurrentZipWriter | SequentialZipWriter;

export interface ZipWriterOptions {
  /** Write split volumes (`target.001`, ... and `target.parts`) instead of one file. */
  split?: SplitOptions | undefined;
}

export const ZipWriter = {
  /** A writer of `target`: one file, or split volumes with `options.split`. */
  async create(
    target: string,
    modified = new Date(),
    options: ZipWriterOptions = {},
  ): Promise<ZipWriter> {
    const output = options.split
      ? await SplitOutput.create(target, options.split)
      : await FileOutput.create(target);
    return ZipWriter.onOutput(output, modified);
  },

  /**
   * A writer onto any output (tests, other media): concurrent entries when the output takes
   * positional writes, one entry at a time otherwise.
   */
  onOutput(output: ZipOutput, modified = new Date()): ZipWriter {
    return output.positional
      ? new ConcurrentZipWriter(output, modified)
      : new SequentialZipWriter(output, modified);
  },
};
