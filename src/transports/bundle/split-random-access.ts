import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { BadBundleError, fromSystemError, NotFoundError } from "../../errors.js";
import { type RandomAccess, RangeReadStream, SmallReadCache } from "./random-access.js";

/** One volume of a split bundle, where it is and how big it must be. */
export interface SplitVolume {
  /** File name, as `.parts` lists it. */
  name: string;
  /** Where it is on disk. */
  path: string;
  size: number;
}

/** Parts kept open at once (a bundle may have hundreds). */
const MAX_OPEN = 32;

interface Slot {
  handle: Promise<FileHandle>;
  busy: number;
  used: number;
}

/**
 * Random access across raw split volumes, read in place: byte `p` of the bundle is byte
 * `p - start(k)` of the part `k` that holds it, and a read that crosses a boundary continues in
 * the next part. Parts are opened read-only, lazily (at most 32 at once), never written,
 * joined, moved or deleted. A part missing or shorter than declared fails naming its file.
 */
export class SplitRandomAccess implements RandomAccess {
  readonly size: number;
  private readonly starts: number[] = [];
  private readonly slots = new Map<number, Slot>();
  private clock = 0;
  private closed = false;
  private readonly cache: SmallReadCache;

  constructor(
    readonly label: string,
    private readonly volumes: SplitVolume[],
    private readonly hint: string,
  ) {
    let start = 0;
    for (const volume of volumes) {
      this.starts.push(start);
      start += volume.size;
    }
    this.size = start;
    this.cache = new SmallReadCache(this.size, (buffer, offset, length, position) =>
      this.readParts(buffer, offset, length, position),
    );
  }

  /** The part holding byte `position` (the last whose start is at or before it). */
  indexOf(position: number): number {
    let low = 0;
    let high = this.volumes.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((this.starts[middle] as number) <= position) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The parts that hold bytes [start, end): for naming what a bad range touches. */
  volumesOf(start: number, end: number): SplitVolume[] {
    if (end <= start) return [];
    const first = this.indexOf(start);
    const last = this.indexOf(end - 1);
    return this.volumes.slice(first, last + 1);
  }

  private async acquire(index: number): Promise<FileHandle> {
    let slot = this.slots.get(index);
    if (!slot) {
      const volume = this.volumes[index] as SplitVolume;
      const handle = open(volume.path, "r").catch((error: unknown) => {
        this.slots.delete(index);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          throw new NotFoundError(
            `${volume.name} (part ${index + 1} of ${this.volumes.length}) is missing: ${volume.path}`,
            { hint: this.hint, details: { part: volume.name } },
          );
        }
        throw fromSystemError(error, volume.path, "opening");
      });
      slot = { handle, busy: 0, used: 0 };
      this.slots.set(index, slot);
      await this.evict();
    }
    slot.busy++;
    slot.used = ++this.clock;
    try {
      return await slot.handle;
    } catch (error) {
      slot.busy--;
      throw error;
    }
  }

  private release(index: number): void {
    const slot = this.slots.get(index);
    if (slot) slot.busy--;
  }

  /** Close the least recently used idle parts beyond the limit. */
  private async evict(): Promise<void> {
    if (this.slots.size <= MAX_OPEN) return;
    const idle = [...this.slots.entries()]
      .filter(([, slot]) => slot.busy === 0)
      .sort((a, b) => a[1].used - b[1].used);
    for (const [index, slot] of idle.slice(0, this.slots.size - MAX_OPEN)) {
      this.slots.delete(index);
      await (await slot.handle.catch(() => undefined))?.close().catch(() => {});
    }
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.cache.read(buffer, offset, length, position);
  }

  private async readParts(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    let done = 0;
    while (done < length && position + done < this.size) {
      const at = position + done;
      const index = this.indexOf(at);
      const volume = this.volumes[index] as SplitVolume;
      const inPart = at - (this.starts[index] as number);
      const want = Math.min(length - done, volume.size - inPart);
      const handle = await this.acquire(index);
      try {
        let got = 0;
        while (got < want) {
          const { bytesRead } = await handle.read(
            buffer,
            offset + done + got,
            want - got,
            inPart + got,
          );
          if (bytesRead === 0) {
            throw new BadBundleError(
              `${volume.name} (part ${index + 1} of ${this.volumes.length}) is truncated: it has no byte ${inPart + got} of the ${volume.size} it must hold (${volume.path})`,
              [{ subject: volume.name, code: "ESIZE", message: `${volume.name} is truncated` }],
              { hint: this.hint, details: { part: volume.name } },
            );
          }
          got += bytesRead;
        }
      } catch (error) {
        throw fromSystemError(error, volume.path, "reading");
      } finally {
        this.release(index);
      }
      done += want;
    }
    return done;
  }

  createReadStream(start: number, end: number): Readable {
    return new RangeReadStream(this, start, end);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const slots = [...this.slots.values()];
    this.slots.clear();
    for (const slot of slots)
      await (await slot.handle.catch(() => undefined))?.close().catch(() => {});
  }
}
