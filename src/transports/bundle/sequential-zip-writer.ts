import type { ZipOutput } from "./zip-output.js";
import { CRC_OFFSET_IN_LOCAL_HEADER, localHeader } from "./zip-records.js";
import { type OpenEntry, ZipWriterBase } from "./zip-writer-base.js";

/** Small writes are gathered into one buffer of this size before they reach the output. */
const GATHER_BYTES = 1024 * 1024;
/** Writes at least this large go straight to the output. */
const DIRECT_BYTES = 256 * 1024;

/**
 * A zip writer for a sequential output (split volumes): one entry at a time, appended. The
 * local header is written first (sizes known, CRC-32 zero), then the data with its CRC-32
 * computed as it passes, then the CRC is patched into the header. Small writes (headers,
 * manifests, small stream chunks) are copied into a 1 MiB gather buffer, so a bundle of many
 * small entries costs few system calls; large ones go straight to the output and are awaited,
 * so a caller may reuse its buffer as soon as a write resolves. After each entry the output is
 * told which bytes are final (`settle`), so split volumes can hash and build parity as they go.
 */
export class SequentialZipWriter extends ZipWriterBase {
  readonly concurrentEntries = false;
  /** Bytes [gatherStart, gatherStart + gatherLength) are in `gather`, not yet written. */
  private readonly gather = Buffer.allocUnsafe(GATHER_BYTES);
  private gatherStart = 0;
  private gatherLength = 0;
  /** End of the last complete entry: bytes below are final. */
  private complete = 0;

  constructor(output: ZipOutput, modified: Date) {
    super(output, modified);
  }

  get size(): number {
    return this.gatherStart + this.gatherLength;
  }

  async addBytes(name: string, bytes: Uint8Array): Promise<number> {
    const entry = await this.beginEntry(name, bytes.length);
    await entry.write(bytes);
    await entry.finish();
    return entry.dataOffset;
  }

  /** One entry at a time: the new one starts at the end of the archive. */
  protected place(): number {
    this.checkNoOpenEntry();
    return this.size;
  }

  /** The local header, its CRC-32 to be patched in by `writeCrc`. */
  protected startEntry(entry: OpenEntry): Promise<void> {
    return this.append(localHeader(entry.nameBytes, entry.size, entry.offset, this.stamp));
  }

  protected writeData(data: Uint8Array): Promise<void> {
    return this.append(data);
  }

  /** A 4-byte patch into the header already written. */
  protected writeCrc(entry: OpenEntry, crc: number): Promise<void> {
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32LE(crc, 0);
    return this.patch(crcBytes, entry.offset + CRC_OFFSET_IN_LOCAL_HEADER);
  }

  /** Everything up to here is final. */
  protected entryRecorded(): void {
    this.complete = this.size;
    this.output.settle(Math.min(this.complete, this.gatherStart));
  }

  protected async appendTail(tail: Buffer): Promise<void> {
    await this.append(tail);
    this.complete = this.size;
    await this.flush();
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
  private async append(buffer: Uint8Array): Promise<void> {
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
}
