import { FerryError } from "../../errors.js";

/** Where a download's bytes go, in order from the blob's byte 0. */
export interface DownloadTarget {
  /** Bytes had so far (a resumed download asks the server for the rest from here). */
  readonly length: number;
  append(chunks: Buffer[]): Promise<void>;
  /** Throw everything away and start over (the server ignored a Range request). */
  reset(): Promise<void>;
}

interface QueuedChunk {
  /** The chunk's first byte, as a position in the blob. */
  start: number;
  bytes: Buffer;
  /** Tell `append` the reader copied the chunk (its buffer may be reused). */
  consumed?: () => void;
}

/**
 * A download handed straight to the one reader that copies it (the copy engine), with no file
 * in between: `append` resolves once the reader has copied the chunks, so the download's few
 * receive buffers are reused and memory stays flat whatever the blob's size. Bytes below
 * `prefix` (what an earlier, cut run left in the cache's partial file) are read from there.
 * The chunk holding the blob's last byte is copied and `append` returns at once: the reader
 * gets the last byte only after the download ended cleanly, and that must not hold the
 * download up.
 */
export class DownloadPipe implements DownloadTarget {
  /** Called when bytes arrive or are reset. */
  onChange: (() => void) | undefined;
  private received = 0;
  private readonly queue: QueuedChunk[] = [];
  /** The reader went away: bytes are dropped as they arrive. */
  private abandoned = false;
  /** The bytes were found bad (a reset after the reader began): never kept for a later run. */
  discarded = false;
  /** The reader has asked for bytes: what it got can no longer be taken back. */
  readerBegan = false;
  /** Bytes the reader has copied out of the queue (positions below are gone). */
  private taken: number;

  constructor(
    /** Bytes of the blob already in the partial file. */
    public prefix: number,
    private readonly size: number,
    private readonly resetPrefix: () => Promise<void>,
  ) {
    this.taken = prefix;
  }

  get length(): number {
    return this.prefix + this.received;
  }

  async append(chunks: Buffer[]): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      const start = this.length;
      this.received += chunk.length;
      if (this.abandoned) continue;
      if (start + chunk.length >= this.size) {
        this.queue.push({ start, bytes: Buffer.from(chunk) });
      } else {
        waits.push(
          new Promise<void>((resolve) =>
            this.queue.push({ start, bytes: chunk, consumed: resolve }),
          ),
        );
      }
    }
    this.onChange?.();
    await Promise.all(waits);
  }

  async reset(): Promise<void> {
    if (this.readerBegan) {
      // The partial (if any) goes too, so the next run starts from the blob's first byte.
      this.discarded = true;
      this.release();
      await this.resetPrefix();
      throw new FerryError(
        "EREGISTRY",
        "the server ignored a range request after bytes of the blob were already passed on",
        { hint: "run the same command again: the blob is then downloaded from its start" },
      );
    }
    this.release();
    this.received = 0;
    this.prefix = 0;
    await this.resetPrefix();
    this.onChange?.();
  }

  /**
   * Copy up to `length` bytes at `position` (the next byte the reader has not taken) into
   * `buffer`, not past `limit`; 0 when none have arrived yet.
   */
  take(buffer: Buffer, offset: number, length: number, position: number, limit: number): number {
    if (position !== this.taken) {
      throw new FerryError(
        "EINTERNAL",
        `download read out of order (byte ${position}, expected ${this.taken})`,
      );
    }
    let copied = 0;
    while (copied < length && this.queue.length > 0) {
      const first = this.queue[0] as QueuedChunk;
      const at = position + copied;
      if (at >= limit) break;
      const from = at - first.start;
      const count = Math.min(length - copied, first.bytes.length - from, limit - at);
      first.bytes.copy(buffer, offset + copied, from, from + count);
      copied += count;
      if (from + count === first.bytes.length) {
        this.queue.shift();
        first.consumed?.();
      }
    }
    this.taken += copied;
    return copied;
  }

  /** The reader is gone: let the download go on (or end) without waiting for it. */
  abandon(): void {
    this.abandoned = true;
    this.release();
  }

  private release(): void {
    for (const chunk of this.queue.splice(0)) chunk.consumed?.();
  }
}
