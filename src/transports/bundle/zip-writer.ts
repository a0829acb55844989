import type { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { FerryError, fromSystemError, SizeError } from "../../errors.js";
import type { PartsManifest } from "../../types/parts.js";
import { FileOutput } from "./file-output.js";
import { type SplitOptions, SplitOutput } from "./split-writer.js";
import {
  CENTRAL_HEADER_SIGNATURE,
  END_SIGNATURE,
  LOCAL_HEADER_SIGNATURE,
  MAX16,
  MAX32,
  ZIP64_END_SIGNATURE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIGNATURE,
} from "./zip-format.js";

const FLAG_UTF8 = 0x0800;
const VERSION_ZIP64 = 45;
const VERSION_DEFAULT = 20;
/** Unix host, spec version 4.5. */
const VERSION_MADE_BY = (3 << 8) | VERSION_ZIP64;
/** A regular file, rw-r--r--. */
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;
const CRC_OFFSET_IN_LOCAL_HEADER = 14;
/** A local zip64 extra field: id, length, then both sizes. */
const ZIP64_LOCAL_EXTRA_LENGTH = 20;

/** Bytes of an entry's local header: fixed part, name, and a zip64 extra field when needed. */
function localHeaderLength(name: Buffer, size: number): number {
  return 30 + name.length + (size >= MAX32 ? ZIP64_LOCAL_EXTRA_LENGTH : 0);
}

interface WrittenEntry {
  name: Buffer;
  size: number;
  crc: number;
  offset: number;
}

/**
 * One entry being written, its size declared up front: bytes in order, then `finish()` or
 * `discard()`. One write at a time per entry; one entry at a time per archive, or several when
 * the writer takes concurrent entries (`ZipWriter.concurrentEntries`).
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
interface OpenEntry {
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

function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.max(1980, date.getUTCFullYear());
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

/** Small entries gathered in memory, to be written at `start` in one write. */
interface GatheredRun {
  buffer: Buffer;
  start: number;
  length: number;
}

/** What `finish()` hands the output: facts only the bundle writer knows. */
export interface ZipFinishInfo {
  /** ferry.json's id (recorded in a split bundle's `.parts` file). */
  bundleId?: string;
}

/** What a finished archive is: its size, and for a split bundle its parts. */
export interface ZipFinished {
  size: number;
  parts?: PartsManifest;
}

/**
 * Where a ZipWriter's bytes go: one file, or split volumes. Positions are offsets in the
 * whole archive. For a sequential output, writes are mostly appends; the only rewrites are
 * CRC-32 patches into the local header of the entry being written, never below a position
 * already settled. A positional output takes writes anywhere, in any order, several at once.
 */
export interface ZipOutput {
  /** The archive's final name (for messages). */
  readonly target: string;
  /**
   * True when the output takes writes at any position in any order, several in flight at once,
   * and needs no `settle` (one file): the writer then writes entries concurrently and never
   * calls `settle`.
   */
  readonly positional?: boolean;
  /** The one file holding the archive until `commit` moves it to `target`, if there is one. */
  readonly tempPath?: string;
  /**
   * Write all of `buffer` at `position`. The caller may reuse `buffer` as soon as the promise
   * resolves (the entry writer's callers do): keep no reference to it past that.
   */
  write(buffer: Uint8Array, position: number): Promise<void>;
  /** Bytes below `position` are on disk and final: they will never be written again. */
  settle(position: number): void;
  /** Flush to disk and move into place under the final name(s). */
  commit(size: number, info: ZipFinishInfo): Promise<ZipFinished>;
  /** Drop everything written; no final name is touched. */
  abort(): Promise<void>;
}

export interface ZipWriterOptions {
  /** Write split volumes (`target.001`, ... and `target.parts`) instead of one file. */
  split?: SplitOptions | undefined;
}

/** Small writes are gathered into one buffer of this size before they reach the output. */
const GATHER_BYTES = 1024 * 1024;
/** Writes at least this large go straight to the output. */
const DIRECT_BYTES = 256 * 1024;

/**
 * A STORED-only zip writer for a seekable output. Each entry's size is known up front (blob
 * descriptors carry it), so the local header is complete — with a zip64 extra field when the
 * entry needs one — and carries the CRC-32 computed as the data passed, instead of trailing
 * data descriptors. Streaming readers (bsdtar from a pipe) and central-directory readers
 * (unzip, yauzl, Python) then agree. CRC-32 uses Node's native zlib.crc32.
 *
 * Sequential outputs (split volumes) take one entry at a time through `beginEntry` (addBytes
 * and addStream are built on it): the header, then the data with its CRC-32 computed as it
 * passes, then the CRC patch. Small writes (headers, manifests, small stream chunks) are
 * copied into a 1 MiB gather buffer, so a bundle of many small entries costs few system calls;
 * large ones go straight to the output and are awaited, so a caller may reuse its buffer as
 * soon as a write resolves. After each entry the output is told which bytes are final
 * (`settle`), so split volumes can hash and build parity as they go.
 *
 * A positional output (one file) takes several entries at once (`concurrentEntries`): since
 * an entry's size is known at `beginEntry`, its whole region — local header and data — is
 * reserved at the end of the archive, its data is written in place as it comes (awaited, so
 * the caller-buffer rule holds) and its local header, CRC-32 included, is written by `finish`.
 * Regions are reserved back to back and the central directory lists entries by offset, so the
 * result is byte for byte the archive a sequential writer makes of the same entries in
 * reservation order. Small entries from memory (`addBytes`: manifests, index.json, ferry.json)
 * are final at once (their CRC-32 is known): they are gathered back to back and a run is
 * written when the next one does not continue it, or by `finish`.
 *
 * An entry that fails or is discarded leaves the archive only to be aborted (entries still
 * open may finish, but no new entry starts and `finish` refuses).
 *
 * The archive is written under temp name(s) and moved into place by `finish()`: the target
 * name(s) only ever hold a complete archive.
 */
export class ZipWriter {
  private readonly entries: WrittenEntry[] = [];
  /**
   * Bytes [gatherStart, gatherStart + gatherLength) are in `gather`, not yet written
   * (sequential outputs; concurrent entries gather small entries in `gathered` runs).
   */
  private readonly gather: Buffer;
  private gatherStart = 0;
  private gatherLength = 0;
  /** End of the last complete entry: bytes below are final (sequential outputs). */
  private complete = 0;
  /** End of the last region reserved (concurrent entries): where the next entry starts. */
  private reserved = 0;
  /** Small entries from memory not written yet, back to back from `start` (concurrent entries). */
  private gathered: GatheredRun | undefined;
  /** Writes of gathered runs in flight (concurrent entries): `finish` waits for them. */
  private readonly gatheredWrites = new Set<Promise<void>>();
  private closed = false;
  /** The entries being written: one at a time (sequential output) or several (positional). */
  private readonly open = new Set<OpenEntry>();
  /** Set when an entry failed or was discarded: the archive can only be aborted. */
  private failure: string | undefined;
  private readonly stamp: { time: number; date: number };

  private constructor(
    private readonly output: ZipOutput,
    modified: Date,
  ) {
    this.stamp = dosDateTime(modified);
    this.gather = output.positional ? Buffer.alloc(0) : Buffer.allocUnsafe(GATHER_BYTES);
  }

  static async create(
    target: string,
    modified = new Date(),
    options: ZipWriterOptions = {},
  ): Promise<ZipWriter> {
    const output = options.split
      ? await SplitOutput.create(target, options.split)
      : await FileOutput.create(target);
    return new ZipWriter(output, modified);
  }

  /** A writer onto any output (tests, other media). */
  static onOutput(output: ZipOutput, modified = new Date()): ZipWriter {
    return new ZipWriter(output, modified);
  }

  get target(): string {
    return this.output.target;
  }

  /**
   * True when several entries may be open at once: the output is one file written
   * positionally. Split volumes take one entry at a time (they hash and build parity as
   * entries settle).
   */
  get concurrentEntries(): boolean {
    return this.output.positional === true;
  }

  /**
   * The file the archive is written to until `finish` moves it to `target` (a positional
   * output's temp file); undefined for split volumes.
   */
  get tempPath(): string | undefined {
    return this.concurrentEntries ? this.output.tempPath : undefined;
  }

  /** Bytes written so far (with concurrent entries: bytes reserved, written by `finish`). */
  get size(): number {
    return this.concurrentEntries ? this.reserved : this.gatherStart + this.gatherLength;
  }

  private async flush(): Promise<void> {
    if (this.gatherLength > 0) {
      await this.output.write(this.gather.subarray(0, this.gatherLength), this.gatherStart);
      this.gatherStart += this.gatherLength;
      this.gatherLength = 0;
    }
    this.output.settle(Math.min(this.complete, this.gatherStart));
  }

  /** Append at the end of the archive. */
  private async write(buffer: Uint8Array): Promise<void> {
    if (buffer.length >= DIRECT_BYTES) {
      await this.flush();
      await this.output.write(buffer, this.gatherStart);
      this.gatherStart += buffer.length;
      return;
    }
    if (this.gatherLength + buffer.length > GATHER_BYTES) await this.flush();
    this.gather.set(buffer, this.gatherLength);
    this.gatherLength += buffer.length;
  }

  /** Rewrite bytes already appended (a CRC patch): in the gather buffer, or on the output. */
  private async patch(buffer: Uint8Array, position: number): Promise<void> {
    const onOutput = Math.max(0, Math.min(buffer.length, this.gatherStart - position));
    if (onOutput > 0) await this.output.write(buffer.subarray(0, onOutput), position);
    if (onOutput < buffer.length) {
      this.gather.set(buffer.subarray(onOutput), position + onOutput - this.gatherStart);
    }
  }

  /** Write at a position (concurrent entries): awaited, so the caller may reuse `buffer`. */
  private async writeAt(buffer: Uint8Array, position: number): Promise<void> {
    if (buffer.length > 0) await this.output.write(buffer, position);
  }

  /** An entry is complete: everything up to here is final (sequential outputs). */
  private entryDone(): void {
    if (this.concurrentEntries) return;
    this.complete = this.size;
    this.output.settle(Math.min(this.complete, this.gatherStart));
  }

  /**
   * A complete local header. The CRC-32 is zero when the data is still to come (sequential
   * outputs: `finish` patches it in); a concurrent entry's header is written with it.
   */
  private localHeader(name: Buffer, size: number, offset: number, crc = 0): Buffer {
    const zip64 = size >= MAX32;
    const header = Buffer.alloc(localHeaderLength(name, size));
    header.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    // Same rule as the central header: an entry starting past 4 GiB also needs zip64.
    header.writeUInt16LE(zip64 || offset >= MAX32 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    header.writeUInt16LE(FLAG_UTF8, 6);
    header.writeUInt16LE(0, 8);
    header.writeUInt16LE(this.stamp.time, 10);
    header.writeUInt16LE(this.stamp.date, 12);
    header.writeUInt32LE(crc, CRC_OFFSET_IN_LOCAL_HEADER);
    header.writeUInt32LE(zip64 ? MAX32 : size, 18);
    header.writeUInt32LE(zip64 ? MAX32 : size, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(zip64 ? ZIP64_LOCAL_EXTRA_LENGTH : 0, 28);
    name.copy(header, 30);
    if (zip64) {
      const extra = 30 + name.length;
      header.writeUInt16LE(ZIP64_EXTRA_ID, extra);
      header.writeUInt16LE(16, extra + 2);
      header.writeBigUInt64LE(BigInt(size), extra + 4);
      header.writeBigUInt64LE(BigInt(size), extra + 12);
    }
    return header;
  }

  /** The archive is neither closed nor failed. */
  private checkUsable(): void {
    if (this.closed) throw new FerryError("EINTERNAL", `zip writer for ${this.target} is closed`);
    if (this.failure !== undefined) {
      throw new FerryError(
        "EINTERNAL",
        `zip writer for ${this.target} cannot go on: ${this.failure} (abort it)`,
      );
    }
  }

  /** No entry is being written (before `finish`, and before an entry on a sequential output). */
  private checkNoOpenEntry(): void {
    const [first] = this.open;
    if (first) {
      throw new FerryError(
        "EINTERNAL",
        `zip writer for ${this.target}: entry ${first.name} is still being written`,
      );
    }
  }

  /**
   * Add an entry from memory. Returns where its data starts in the archive. With concurrent
   * entries it is reserved and written at once (a small entry in one write).
   */
  async addBytes(name: string, bytes: Uint8Array): Promise<number> {
    if (this.concurrentEntries) return this.addBytesAt(name, bytes);
    const entry = await this.beginEntry(name, bytes.length);
    await entry.write(bytes);
    await entry.finish();
    return entry.dataOffset;
  }

  /**
   * addBytes with concurrent entries: the CRC-32 is known, so header and data are final at
   * once. A small entry is gathered (copied) behind the small entries just before it and
   * written with them; a large one is written in place now.
   */
  private async addBytesAt(name: string, bytes: Uint8Array): Promise<number> {
    const entry = this.placeEntry(name, bytes.length);
    entry.crc = crc32(bytes);
    entry.written = bytes.length;
    const header = this.localHeader(entry.nameBytes, entry.size, entry.offset, entry.crc >>> 0);
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
   * reused buffers. On a sequential output the local header is written now (sizes known, CRC-32
   * patched in by `finish`) and no other entry may start until this one is finished; with
   * concurrent entries the entry's region is reserved and its header written by `finish`.
   */
  async beginEntry(name: string, size: number): Promise<ZipEntryWriter> {
    const entry = this.placeEntry(name, size);
    if (!this.concurrentEntries) {
      await this.entryStep(entry, () =>
        this.write(this.localHeader(entry.nameBytes, size, entry.offset)),
      );
    }
    entry.state = "open";
    return {
      dataOffset: entry.dataOffset,
      write: (buffer, length) => this.writeEntryData(entry, buffer, length ?? buffer.length),
      finish: () => this.finishEntry(entry),
      discard: () => this.discardEntry(entry),
    };
  }

  /**
   * Check a new entry may start and place it at the end of the archive: with concurrent
   * entries its whole region (header and data) is reserved there. The entry is open, its
   * state "writing" until the caller has written what it writes first.
   */
  private placeEntry(name: string, size: number): OpenEntry {
    this.checkUsable();
    if (!this.concurrentEntries) this.checkNoOpenEntry();
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new FerryError("EINTERNAL", `zip entry ${name}: ${size} is not a size`);
    }
    const nameBytes = Buffer.from(name, "utf8");
    const offset = this.size;
    const dataOffset = offset + localHeaderLength(nameBytes, size);
    const entry: OpenEntry = {
      name,
      nameBytes,
      size,
      offset,
      dataOffset,
      written: 0,
      crc: 0,
      state: "writing",
    };
    if (this.concurrentEntries) this.reserved = dataOffset + size;
    this.open.add(entry);
    return entry;
  }

  /**
   * Run one step of an entry; a failure fails the entry and the archive (its bytes are part
   * written) and names the target in a system error (a full disk: ENOSPC, exit 8).
   */
  private async entryStep(entry: OpenEntry, step: () => Promise<void>): Promise<void> {
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
    // CRC-32 on the main thread while the caller's next read is in flight; the write below
    // either copies `data` into the gather buffer or awaits the output: either way no
    // reference to the caller's (reused) buffer survives this promise.
    entry.crc = crc32(data, entry.crc);
    entry.written += length;
    entry.state = "writing";
    await this.entryStep(entry, () =>
      this.concurrentEntries ? this.writeAt(data, position) : this.write(data),
    );
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

  /**
   * Put an entry's CRC-32 into its local header: the whole header, written now, for a
   * concurrent entry; a 4-byte patch into the header already written on a sequential output.
   */
  private async writeCrc(entry: OpenEntry, crc: number): Promise<void> {
    if (this.concurrentEntries) {
      await this.writeAt(
        this.localHeader(entry.nameBytes, entry.size, entry.offset, crc),
        entry.offset,
      );
      return;
    }
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32LE(crc, 0);
    await this.patch(crcBytes, entry.offset + CRC_OFFSET_IN_LOCAL_HEADER);
  }

  /** The entry is complete: it goes into the central directory. */
  private recordEntry(entry: OpenEntry): void {
    entry.state = "finished";
    this.open.delete(entry);
    this.entries.push({
      name: entry.nameBytes,
      size: entry.size,
      crc: entry.crc >>> 0,
      offset: entry.offset,
    });
    this.entryDone();
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

  private centralHeader(entry: WrittenEntry): Buffer {
    const sizeNeeds64 = entry.size >= MAX32;
    const offsetNeeds64 = entry.offset >= MAX32;
    const extraLength =
      sizeNeeds64 || offsetNeeds64 ? 4 + (sizeNeeds64 ? 16 : 0) + (offsetNeeds64 ? 8 : 0) : 0;
    const header = Buffer.alloc(46 + entry.name.length + extraLength);
    header.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
    header.writeUInt16LE(VERSION_MADE_BY, 4);
    header.writeUInt16LE(extraLength ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
    header.writeUInt16LE(FLAG_UTF8, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(this.stamp.time, 12);
    header.writeUInt16LE(this.stamp.date, 14);
    header.writeUInt32LE(entry.crc, 16);
    header.writeUInt32LE(sizeNeeds64 ? MAX32 : entry.size, 20);
    header.writeUInt32LE(sizeNeeds64 ? MAX32 : entry.size, 24);
    header.writeUInt16LE(entry.name.length, 28);
    header.writeUInt16LE(extraLength, 30);
    header.writeUInt16LE(0, 32);
    header.writeUInt16LE(0, 34);
    header.writeUInt16LE(0, 36);
    header.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
    header.writeUInt32LE(offsetNeeds64 ? MAX32 : entry.offset, 42);
    entry.name.copy(header, 46);
    if (extraLength) {
      let at = 46 + entry.name.length;
      header.writeUInt16LE(ZIP64_EXTRA_ID, at);
      header.writeUInt16LE(extraLength - 4, at + 2);
      at += 4;
      if (sizeNeeds64) {
        header.writeBigUInt64LE(BigInt(entry.size), at);
        header.writeBigUInt64LE(BigInt(entry.size), at + 8);
        at += 16;
      }
      if (offsetNeeds64) header.writeBigUInt64LE(BigInt(entry.offset), at);
    }
    return header;
  }

  private endRecords(centralOffset: number, centralSize: number): Buffer {
    const count = this.entries.length;
    const needs64 = count >= MAX16 || centralOffset >= MAX32 || centralSize >= MAX32;
    const parts: Buffer[] = [];
    if (needs64) {
      const zip64End = Buffer.alloc(56);
      zip64End.writeUInt32LE(ZIP64_END_SIGNATURE, 0);
      zip64End.writeBigUInt64LE(44n, 4);
      zip64End.writeUInt16LE(VERSION_MADE_BY, 12);
      zip64End.writeUInt16LE(VERSION_ZIP64, 14);
      zip64End.writeBigUInt64LE(BigInt(count), 24);
      zip64End.writeBigUInt64LE(BigInt(count), 32);
      zip64End.writeBigUInt64LE(BigInt(centralSize), 40);
      zip64End.writeBigUInt64LE(BigInt(centralOffset), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(ZIP64_LOCATOR_SIGNATURE, 0);
      locator.writeBigUInt64LE(BigInt(centralOffset + centralSize), 8);
      locator.writeUInt32LE(1, 16);
      parts.push(zip64End, locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_SIGNATURE, 0);
    end.writeUInt16LE(needs64 ? MAX16 : count, 8);
    end.writeUInt16LE(needs64 ? MAX16 : count, 10);
    end.writeUInt32LE(needs64 ? MAX32 : centralSize, 12);
    end.writeUInt32LE(needs64 ? MAX32 : centralOffset, 16);
    parts.push(end);
    return Buffer.concat(parts);
  }

  /**
   * Write the central directory, flush to disk, and move the archive to its name(s). Returns
   * its size and, for split volumes, the parts written.
   */
  async finish(info: ZipFinishInfo = {}): Promise<ZipFinished> {
    this.checkUsable();
    this.checkNoOpenEntry();
    try {
      // Concurrent entries finish in any order; the directory lists them as they lie.
      const inOrder = [...this.entries].sort((a, b) => a.offset - b.offset);
      const central = Buffer.concat(inOrder.map((entry) => this.centralHeader(entry)));
      const centralOffset = this.size;
      await this.appendTail(
        Buffer.concat([central, this.endRecords(centralOffset, central.length)]),
      );
      const finished = await this.output.commit(this.size, info);
      this.closed = true;
      return finished;
    } catch (error) {
      await this.abort();
      throw fromSystemError(error, this.target, "writing");
    }
  }

  /** Write the central directory and end records after the last entry; all of it is final. */
  private async appendTail(tail: Buffer): Promise<void> {
    if (this.concurrentEntries) {
      await this.writeGathered();
      await Promise.all(this.gatheredWrites);
      await this.writeAt(tail, this.reserved);
      this.reserved += tail.length;
      return;
    }
    await this.write(tail);
    this.complete = this.size;
    await this.flush();
  }

  /** Drop the unfinished archive; the target name(s) are left as they were. */
  async abort(): Promise<void> {
    this.closed = true;
    await this.output.abort();
  }
}
