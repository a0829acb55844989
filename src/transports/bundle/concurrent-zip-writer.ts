import { crc32 } from "node:zlib";
import { fromSystemError } from "../../errors.js";
import type { ZipOutput } from "./zip-output.js";
import { localHeader } from "./zip-records.js";
import { type OpenEntry, ZipWriterBase } from "./zip-writer-base.js";

/** Small entries from memory are gathered into runs of up to this many bytes. */
const GATHER_BYTES = 1024 * 1024;
/** An entry from memory at least this large (with its header) is written on its own. */
const DIRECT_BYTES = 256 * 1024;

/** Small entries gathered in memory, to be written at `start` in one write. */
interface GatheredRun {
  buffer: Buffer;
  start: number;
  length: number;
}

/**
 * A zip writer for a positional output (one file) that takes several entries at once. Since
 * an entry's size is known at `beginEntry`, its whole region — local header and data — is
 * reserved at the end of the archive, its data is written in place as it comes (awaited, so
 * the caller-buffer rule holds) and its local header, CRC-32 included, is written by `finish`.
 * Regions are reserved back to back and the central directory lists entries by offset, so the
 * result is byte for byte the archive SequentialZipWriter makes of the same entries in
 * reservation order. Small entries from memory (`addBytes`: manifests, index.json, ferry.json)
 * are final at once (their CRC-32 is known): they are gathered back to back and a run is
 * written when the next one does not continue it, or by `finish`.
 */
export class ConcurrentZipWriter extends ZipWriterBase {
  readonly concurrentEntries = true;
  /** End of the last region reserved: where the next entry starts. */
  private reserved = 0;
  /** Small entries from memory not written yet, back to back from `start`. */
  private gathered: GatheredRun | undefined;
  /** Writes of gathered runs in flight: `finish` waits for them. */
  private readonly gatheredWrites = new Set<Promise<void>>();

  constructor(output: ZipOutput, modified: Date) {
    super(output, modified);
  }

  /** Bytes reserved so far (entries still being written included). */
  get size(): number {
    return this.reserved;
  }

  override get tempPath(): string | undefined {
    return this.output.tempPath;
  }

  /**
   * The CRC-32 is known, so header and data are final at once. A small entry is gathered
   * (copied) behind the small entries just before it and written with them; a large one is
   * written in place now.
   */
  async addBytes(name: string, bytes: Uint8Array): Promise<number> {
    const entry = this.placeEntry(name, bytes.length);
    entry.crc = crc32(bytes) >>> 0;
    entry.written = bytes.length;
    const header = localHeader(entry.nameBytes, entry.size, entry.offset, this.stamp, entry.crc);
    if (header.length + bytes.length < DIRECT_BYTES) {
      const earlier = this.gatherAt(entry.offset, header, bytes);
      this.recordEntry(entry);
      await earlier;
      return entry.dataOffset;
    }
    await this.entryStep(entry, async () => {
      await this.writeAt(header, entry.offset);
      await this.writeAt(bytes, entry.dataOffset);
    });
    this.recordEntry(entry);
    return entry.dataOffset;
  }

  /** The entry's whole region, header and data, is reserved at the end of the archive. */
  protected place(_name: string, length: number): number {
    const offset = this.reserved;
    this.reserved += length;
    return offset;
  }

  /** Nothing yet: the header is written by `writeCrc`, once the CRC-32 is known. */
  protected async startEntry(): Promise<void> {}

  protected writeData(data: Uint8Array, position: number): Promise<void> {
    return this.writeAt(data, position);
  }

  /** The whole local header, written now. */
  protected writeCrc(entry: OpenEntry, crc: number): Promise<void> {
    return this.writeAt(
      localHeader(entry.nameBytes, entry.size, entry.offset, this.stamp, crc),
      entry.offset,
    );
  }

  protected entryRecorded(): void {}

  protected async appendTail(tail: Buffer): Promise<void> {
    await this.writeGathered();
    await Promise.all(this.gatheredWrites);
    await this.writeAt(tail, this.reserved);
    this.reserved += tail.length;
  }

  /** Write at a position: awaited, so the caller may reuse `buffer`. */
  private async writeAt(buffer: Uint8Array, position: number): Promise<void> {
    if (buffer.length > 0) await this.output.write(buffer, position);
  }

  /**
   * Copy `pieces`, to lie at `position`, into the gathered run of small entries if they
   * continue it; otherwise start a new run with them and write the old one out (the promise
   * returned). Each run gets its own buffer, so a run being written is never touched again.
   */
  private gatherAt(position: number, ...pieces: Uint8Array[]): Promise<void> {
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
    let run = this.gathered;
    let earlier = Promise.resolve();
    if (!run || run.start + run.length !== position || run.length + length > run.buffer.length) {
      earlier = this.writeGathered();
      run = { buffer: Buffer.allocUnsafe(GATHER_BYTES), start: position, length: 0 };
      this.gathered = run;
    }
    for (const piece of pieces) {
      run.buffer.set(piece, run.length);
      run.length += piece.length;
    }
    return earlier;
  }

  /**
   * Write out the gathered run of small entries, if any. Their entries are recorded already,
   * so a failure fails the archive (only `abort()` then).
   */
  private writeGathered(): Promise<void> {
    const run = this.gathered;
    this.gathered = undefined;
    if (!run || run.length === 0) return Promise.resolve();
    const write: Promise<void> = this.output
      .write(run.buffer.subarray(0, run.length), run.start)
      .catch((error: unknown) => {
        const failed = fromSystemError(error, this.target, "writing");
        this.failure ??= `writing entries failed (${failed.message})`;
        throw failed;
      })
      .finally(() => this.gatheredWrites.delete(write));
    this.gatheredWrites.add(write);
    return write;
  }
}
