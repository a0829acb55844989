import type { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { FerryError, fromSystemError, SizeError } from "../../errors.js";
import type { ZipFinished, ZipFinishInfo, ZipOutput } from "./zip-output.js";
import {
  archiveTail,
  type DosStamp,
  dosStamp,
  localHeaderLength,
  type WrittenEntry,
} from "./zip-records.js";

/**
 * One entry being written, its size declared up front: bytes in order, then `finish()` or
 * `discard()`. One write at a time per entry; one entry at a time per archive, or several when
 * the writer takes concurrent entries (`concurrentEntries`).
 */
export interface ZipEntryWriter {
  /** Where the entry's data starts in the archive: its bytes are contiguous from here. */
  readonly dataOffset: number;
  /**
   * Append the first `length` bytes of `buffer` (all of it by default). The caller may reuse
   * `buffer` once the promise resolves: the writer copies it or has written it out by then.
   * More bytes than declared are refused (ESIZE) before any of them is written.
   */
  write(buffer: Uint8Array, length?: number): Promise<void>;
  /**
   * Check the size is exact (ESIZE), put the CRC-32 into the local header (patched in, or the
   * whole header written now for a concurrent entry), record the entry.
   */
  finish(): Promise<void>;
  /**
   * Give up on the entry. Part of it is already in the archive (or its region is reserved),
   * so the archive is unusable from here on: no entry starts and `finish()` fails, only
   * `abort()` remains. Never throws.
   */
  discard(): Promise<void>;
}

/** The writer's side of an open entry. */
export interface OpenEntry {
  name: string;
  nameBytes: Buffer;
  size: number;
  /** Where the local header starts. */
  offset: number;
  /** Where the data starts: `offset` plus the local header's length. */
  dataOffset: number;
  written: number;
  crc: number;
  state: "open" | "writing" | "finished" | "failed";
  /** Why the entry failed, rethrown by a later finish(). */
  error?: unknown;
}

/**
 * What both zip writers share: the life of an entry (placed, written with its CRC-32 computed
 * as the bytes pass, finished with an exact size, or failed/discarded), the rule that a failed
 * entry leaves the archive only to be aborted, and the tail (central directory, end records)
 * written by `finish`. Where the bytes go is each writer's own: SequentialZipWriter appends
 * through a gather buffer and patches CRCs in; ConcurrentZipWriter writes reserved regions.
 *
 * The archive is written under temp name(s) by the output and moved into place by `finish()`:
 * the target name(s) only ever hold a complete archive.
 */
export abstract class ZipWriterBase {
  /** True when several entries may be open at once (see ConcurrentZipWriter). */
  abstract readonly concurrentEntries: boolean;
  /** Bytes of the archive so far: where the next entry (or the central directory) starts. */
  abstract get size(): number;
  /** Add an entry from memory; returns where its data starts in the archive. */
  abstract addBytes(name: string, bytes: Uint8Array): Promise<number>;

  /** Reserve `length` bytes for a new entry named `name`; returns where it starts. */
  protected abstract place(name: string, length: number): number;
  /** Write what an entry starts with, before its data (a sequential writer: the header). */
  protected abstract startEntry(entry: OpenEntry): Promise<void>;
  /** Write `data`, the entry's next bytes, which belong at `position`. */
  protected abstract writeData(data: Uint8Array, position: number): Promise<void>;
  /** Put the entry's CRC-32 into its local header. */
  protected abstract writeCrc(entry: OpenEntry, crc: number): Promise<void>;
  /** An entry has been recorded (complete). */
  protected abstract entryRecorded(): void;
  /** Write the central directory and end records after the last entry. */
  protected abstract appendTail(tail: Buffer): Promise<void>;

  private readonly entries: WrittenEntry[] = [];
  private closed = false;
  /** The entries being written: one at a time (sequential) or several (concurrent). */
  protected readonly open = new Set<OpenEntry>();
  /** Set when an entry failed or was discarded: the archive can only be aborted. */
  protected failure: string | undefined;
  protected readonly stamp: DosStamp;

  protected constructor(
    protected readonly output: ZipOutput,
    modified: Date,
  ) {
    this.stamp = dosStamp(modified);
  }

  get target(): string {
    return this.output.target;
  }

  /**
   * The file the archive is written to until `finish` moves it to `target` (a concurrent
   * writer's temp file); undefined for split volumes.
   */
  get tempPath(): string | undefined {
    return undefined;
  }

  /** The archive is neither closed nor failed. */
  protected checkUsable(): void {
    if (this.closed) throw new FerryError("EINTERNAL", `zip writer for ${this.target} is closed`);
    if (this.failure !== undefined) {
      throw new FerryError(
        "EINTERNAL",
        `zip writer for ${this.target} cannot go on: ${this.failure} (abort it)`,
      );
    }
  }

  /** No entry is being written (before `finish`, and before an entry on a sequential output). */
  protected checkNoOpenEntry(): void {
    const [first] = this.open;
    if (first) {
      throw new FerryError(
        "EINTERNAL",
        `zip writer for ${this.target}: entry ${first.name} is still being written`,
      );
    }
  }

  /**
   * Add an entry from a stream of exactly `size` bytes; returns where its data starts in the
   * archive. If the stream fails, the archive is unusable: the caller aborts it.
   */
  async addStream(name: string, size: number, stream: Readable): Promise<number> {
    const entry = await this.beginEntry(name, size);
    try {
      for await (const chunk of stream) await entry.write(chunk as Buffer);
      await entry.finish();
      return entry.dataOffset;
    } catch (error) {
      await entry.discard();
      throw fromSystemError(error, this.target, "writing");
    }
  }

  /**
   * Start an entry of exactly `size` bytes; its data is written by the returned writer.
   * addBytes and addStream are built on it; the engine's verified pump writes through it with
   * reused buffers.
   */
  async beginEntry(name: string, size: number): Promise<ZipEntryWriter> {
    const entry = this.placeEntry(name, size);
    await this.entryStep(entry, () => this.startEntry(entry));
    entry.state = "open";
    return {
      dataOffset: entry.dataOffset,
      write: (buffer, length) => this.writeEntryData(entry, buffer, length ?? buffer.length),
      finish: () => this.finishEntry(entry),
      discard: () => this.discardEntry(entry),
    };
  }

  /**
   * Check a new entry may start and place it (`place`). The entry is open, its state
   * "writing" until the caller has written what it writes first.
   */
  protected placeEntry(name: string, size: number): OpenEntry {
    this.checkUsable();
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new FerryError("EINTERNAL", `zip entry ${name}: ${size} is not a size`);
    }
    const nameBytes = Buffer.from(name, "utf8");
    const headerLength = localHeaderLength(nameBytes, size);
    const offset = this.place(name, headerLength + size);
    const entry: OpenEntry = {
      name,
      nameBytes,
      size,
      offset,
      dataOffset: offset + headerLength,
      written: 0,
      crc: 0,
      state: "writing",
    };
    this.open.add(entry);
    return entry;
  }

  /**
   * Run one step of an entry; a failure fails the entry and the archive (its bytes are part
   * written) and names the target in a system error (a full disk: ENOSPC, exit 8).
   */
  protected async entryStep(entry: OpenEntry, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      throw this.failEntry(entry, fromSystemError(error, this.target, "writing"));
    }
  }

  private failEntry(entry: OpenEntry, error: unknown): unknown {
    entry.state = "failed";
    entry.error = error;
    const why = error instanceof Error ? error.message : String(error);
    this.failure ??= `entry ${entry.name} failed (${why})`;
    return error;
  }

  /** The entry must be one of this archive's open entries, with no write in flight. */
  private checkEntry(entry: OpenEntry, action: string): void {
    if (entry.state === "failed") throw entry.error;
    if (this.closed) {
      throw new FerryError("EINTERNAL", `zip entry ${entry.name}: ${this.target} is closed`);
    }
    if (!this.open.has(entry) || entry.state !== "open") {
      const why = entry.state === "writing" ? "a write is still in flight" : "it is closed";
      throw new FerryError(
        "EINTERNAL",
        `zip entry ${entry.name}: cannot ${action} (${why}) in ${this.target}`,
      );
    }
  }

  private async writeEntryData(
    entry: OpenEntry,
    buffer: Uint8Array,
    length: number,
  ): Promise<void> {
    this.checkEntry(entry, "write");
    if (!Number.isSafeInteger(length) || length < 0 || length > buffer.length) {
      throw this.failEntry(
        entry,
        new FerryError(
          "EINTERNAL",
          `zip entry ${entry.name}: a write of ${length} bytes from a buffer of ${buffer.length}`,
        ),
      );
    }
    if (entry.written + length > entry.size) {
      throw this.failEntry(
        entry,
        new SizeError(`zip entry ${entry.name}`, entry.size, entry.written + length),
      );
    }
    const data = buffer.subarray(0, length);
    const position = entry.dataOffset + entry.written;
    // CRC-32 on the main thread while the caller's next read is in flight; writeData either
    // copies `data` (a gather buffer) or awaits the output: either way no reference to the
    // caller's (reused) buffer survives this promise.
    entry.crc = crc32(data, entry.crc);
    entry.written += length;
    entry.state = "writing";
    await this.entryStep(entry, () => this.writeData(data, position));
    if (entry.state === "writing") entry.state = "open";
  }

  private async finishEntry(entry: OpenEntry): Promise<void> {
    this.checkEntry(entry, "finish");
    if (entry.written !== entry.size) {
      throw this.failEntry(
        entry,
        new SizeError(`zip entry ${entry.name}`, entry.size, entry.written),
      );
    }
    const crc = entry.crc >>> 0;
    entry.state = "writing";
    await this.entryStep(entry, () => this.writeCrc(entry, crc));
    this.recordEntry(entry);
  }

  /** The entry is complete: it goes into the central directory. */
  protected recordEntry(entry: OpenEntry): void {
    entry.state = "finished";
    this.open.delete(entry);
    this.entries.push({
      name: entry.nameBytes,
      size: entry.size,
      crc: entry.crc >>> 0,
      offset: entry.offset,
    });
    this.entryRecorded();
  }

  private async discardEntry(entry: OpenEntry): Promise<void> {
    if (entry.state === "finished") return;
    if (entry.state !== "failed") {
      entry.state = "failed";
      entry.error = new FerryError("EINTERNAL", `zip entry ${entry.name} was discarded`);
    }
    this.failure ??= `entry ${entry.name} was discarded`;
    this.open.delete(entry);
  }

  /**
   * Write the central directory, flush to disk, and move the archive to its name(s). Returns
   * its size and, for split volumes, the parts written.
   */
  async finish(info: ZipFinishInfo = {}): Promise<ZipFinished> {
    this.checkUsable();
    this.checkNoOpenEntry();
    try {
      await this.appendTail(archiveTail(this.entries, this.stamp, this.size));
      const finished = await this.output.commit(this.size, info);
      this.closed = true;
      return finished;
    } catch (error) {
      await this.abort();
      throw fromSystemError(error, this.target, "writing");
    }
  }

  /** Drop the unfinished archive; the target name(s) are left as they were. */
  async abort(): Promise<void> {
    this.closed = true;
    await this.output.abort();
  }
}
