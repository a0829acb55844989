import { type FileHandle, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { FerryError, fromSystemError, SizeError } from "../../errors.js";
import type { PartsManifest } from "../../types/parts.js";
import { syncDirectory, uniqueTempName } from "../../util/atomic-file.js";
import { writeFully } from "./random-access.js";
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

interface WrittenEntry {
  name: Buffer;
  size: number;
  crc: number;
  offset: number;
}

function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.max(1980, date.getUTCFullYear());
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
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
 * whole archive. Writes are mostly appends; the only rewrites are CRC-32 patches into the
 * local header of the entry being written, never below a position already settled.
 */
export interface ZipOutput {
  /** The archive's final name (for messages). */
  readonly target: string;
  /** Write all of `buffer` at `position`. */
  write(buffer: Uint8Array, position: number): Promise<void>;
  /** Bytes below `position` are on disk and final: they will never be written again. */
  settle(position: number): void;
  /** Flush to disk and move into place under the final name(s). */
  commit(size: number, info: ZipFinishInfo): Promise<ZipFinished>;
  /** Drop everything written; no final name is touched. */
  abort(): Promise<void>;
}

/** One file, written under a temp name beside the target and renamed by `commit()`. */
export class FileOutput implements ZipOutput {
  private closed = false;

  private constructor(
    readonly target: string,
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(target: string): Promise<FileOutput> {
    const tempPath = uniqueTempName(target);
    try {
      return new FileOutput(target, tempPath, await open(tempPath, "wx", 0o644));
    } catch (error) {
      throw fromSystemError(error, target, "creating");
    }
  }

  async write(buffer: Uint8Array, position: number): Promise<void> {
    await writeFully(this.handle, buffer, position);
  }

  settle(): void {}

  async commit(size: number): Promise<ZipFinished> {
    await this.handle.datasync();
    await this.handle.close();
    this.closed = true;
    await rename(this.tempPath, this.target);
    await syncDirectory(path.dirname(this.target));
    return { size };
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => {});
    }
    await rm(this.tempPath, { force: true }).catch(() => {});
  }
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
 * entry needs one — and its CRC-32 is patched in after the data, instead of trailing data
 * descriptors. Streaming readers (bsdtar from a pipe) and central-directory readers (unzip,
 * yauzl, Python) then agree. CRC-32 uses Node's native zlib.crc32.
 *
 * Small writes (headers, manifests, small stream chunks) are gathered into a 1 MiB buffer, so
 * a bundle of many small entries costs few system calls. After each entry the output is told
 * which bytes are final (`settle`), so split volumes can hash and build parity as they go.
 *
 * The archive is written under temp name(s) and moved into place by `finish()`: the target
 * name(s) only ever hold a complete archive.
 */
export class ZipWriter {
  private readonly entries: WrittenEntry[] = [];
  /** Bytes [gatherStart, gatherStart + gatherLength) are in `gather`, not yet written. */
  private readonly gather = Buffer.allocUnsafe(GATHER_BYTES);
  private gatherStart = 0;
  private gatherLength = 0;
  /** End of the last complete entry: bytes below are final. */
  private complete = 0;
  private closed = false;
  private readonly stamp: { time: number; date: number };

  private constructor(
    private readonly output: ZipOutput,
    modified: Date,
  ) {
    this.stamp = dosDateTime(modified);
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

  /** Bytes written so far. */
  get size(): number {
    return this.gatherStart + this.gatherLength;
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

  /** An entry is complete: everything up to here is final. */
  private entryDone(): void {
    this.complete = this.size;
    this.output.settle(Math.min(this.complete, this.gatherStart));
  }

  private localHeader(name: Buffer, size: number, crc: number): Buffer {
    const zip64 = size >= MAX32;
    const extraLength = zip64 ? 20 : 0;
    const header = Buffer.alloc(30 + name.length + extraLength);
    header.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    // Same rule as the central header: an entry starting past 4 GiB also needs zip64.
    header.writeUInt16LE(zip64 || this.size >= MAX32 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    header.writeUInt16LE(FLAG_UTF8, 6);
    header.writeUInt16LE(0, 8);
    header.writeUInt16LE(this.stamp.time, 10);
    header.writeUInt16LE(this.stamp.date, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(zip64 ? MAX32 : size, 18);
    header.writeUInt32LE(zip64 ? MAX32 : size, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(extraLength, 28);
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

  private checkOpen(): void {
    if (this.closed) throw new FerryError("EINTERNAL", `zip writer for ${this.target} is closed`);
  }

  /** Add an entry from memory. */
  async addBytes(name: string, bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    await this.writing(() => this.writeBytesEntry(name, bytes));
  }

  /** Name the target in any system error (a full disk: ENOSPC, exit 8), not a raw error. */
  private async writing(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      throw fromSystemError(error, this.target, "writing");
    }
  }

  private async writeBytesEntry(name: string, bytes: Uint8Array): Promise<void> {
    const nameBytes = Buffer.from(name, "utf8");
    const crc = crc32(bytes);
    const offset = this.size;
    await this.write(this.localHeader(nameBytes, bytes.length, crc));
    await this.write(bytes);
    this.entries.push({ name: nameBytes, size: bytes.length, crc, offset });
    this.entryDone();
  }

  /**
   * Add an entry from a stream of exactly `size` bytes. If the stream fails, the archive is
   * unusable: the caller aborts it.
   */
  async addStream(name: string, size: number, stream: Readable): Promise<void> {
    this.checkOpen();
    await this.writing(() => this.writeStreamEntry(name, size, stream));
  }

  private async writeStreamEntry(name: string, size: number, stream: Readable): Promise<void> {
    const nameBytes = Buffer.from(name, "utf8");
    const offset = this.size;
    await this.write(this.localHeader(nameBytes, size, 0));
    let crc = 0;
    let written = 0;
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      crc = crc32(buffer, crc);
      written += buffer.length;
      if (written > size) break;
      await this.write(buffer);
    }
    if (written !== size) throw new SizeError(`zip entry ${name}`, size, written);
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32LE(crc >>> 0, 0);
    await this.patch(crcBytes, offset + CRC_OFFSET_IN_LOCAL_HEADER);
    this.entries.push({ name: nameBytes, size, crc: crc >>> 0, offset });
    this.entryDone();
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
    this.checkOpen();
    try {
      const central = Buffer.concat(this.entries.map((entry) => this.centralHeader(entry)));
      const centralOffset = this.size;
      await this.write(central);
      await this.write(this.endRecords(centralOffset, central.length));
      this.complete = this.size;
      await this.flush();
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
