import { IntegrityError, SizeError } from "../errors.js";
import { digestFromHex } from "../types/digest.js";
import type { BlobReader, BlobWriter } from "../types/transport.js";
import {
  type BlobHasher,
  type HashPool,
  mainThreadHasher,
  SLOT_BYTES,
  sharedHashPool,
  WORKER_MIN_BYTES,
} from "./hash-pool.js";
import type { ExpectedContent } from "./verifying-stream.js";

/** 1 MiB reads: few syscalls, and each chunk stays in cache between read, hash and write. */
export const PUMP_CHUNK = SLOT_BYTES;

export interface PumpOptions {
  /** Where blobs of WORKER_MIN_BYTES or more are hashed (default: the shared pool). */
  pool?: HashPool;
  onBytes?: (count: number) => void;
  /** Stop at the next chunk when this aborts (the writer is discarded, its reason thrown). */
  signal?: AbortSignal;
}

const ignore = (): void => {};

/**
 * Copy one blob from a positional reader to a writer through a few reused slot buffers.
 * Chunk i is hashed (on a worker thread, or on the main thread for a tiny blob) while the
 * writer writes the same chunk and chunk i+1 is being read; a slot is refilled only when both
 * its hash and its write are done. Memory is a few MiB per blob whatever its size, nothing is
 * allocated per chunk, and the writer is finished only when size and sha256 match — discarded
 * otherwise.
 */
export async function pumpVerified(
  reader: BlobReader,
  writer: BlobWriter,
  expected: ExpectedContent,
  what: string,
  options: PumpOptions = {},
): Promise<void> {
  const size = expected.size;
  let hasher: BlobHasher | undefined;
  try {
    if (size >= WORKER_MIN_BYTES && !reader.followsDownload) {
      hasher = await (options.pool ?? sharedHashPool()).acquire(what);
    }
    hasher ??= mainThreadHasher(size);
  } catch (error) {
    await writer.discard().catch(ignore);
    await reader.close().catch(ignore);
    throw error;
  }
  const { buffers } = hasher;
  const slots = buffers.length;
  /** What each slot is still being used for (its hash and its write), undefined when free. */
  const busy: Array<Promise<void> | undefined> = new Array(slots).fill(undefined);
  let writing: Promise<void> = Promise.resolve();
  let requested = 0;
  let nextSlot = 0;

  interface Read {
    slot: number;
    length: number;
    filled: Promise<number>;
  }
  const request = (): Read => {
    const slot = nextSlot;
    const buffer = buffers[slot] as Buffer;
    const length = Math.min(buffer.length, size - requested);
    const at = requested;
    const previous = busy[slot];
    const filled = (async () => {
      if (previous) await previous;
      return readFully(reader, buffer, length, at);
    })();
    filled.catch(ignore);
    requested += length;
    nextSlot = (nextSlot + 1) % slots;
    return { slot, length, filled };
  };

  let next: Read | undefined;
  try {
    let done = 0;
    next = size > 0 ? request() : undefined;
    while (next) {
      options.signal?.throwIfAborted();
      const { slot, length, filled } = next;
      const count = await filled;
      next = undefined;
      if (count < length) {
        throw new SizeError(what, size, done + count, { details: { digest: expected.digest } });
      }
      done += count;
      if (requested < size) next = request();
      const buffer = buffers[slot] as Buffer;
      const hashed = hasher.update(slot, count);
      const landedAfter = done;
      writing = writing.then(async () => {
        await writer.write(buffer, count);
        reader.landed?.(landedAfter);
      });
      const settled = hashed ? Promise.all([hashed, writing]).then(ignore) : writing;
      settled.catch(ignore);
      busy[slot] = settled;
      options.onBytes?.(count);
    }
    await Promise.all(busy);
    await writing;
    const found = digestFromHex(await hasher.digest());
    hasher.release();
    if (found !== expected.digest) {
      throw new IntegrityError(what, expected.digest, found, {
        details: { digest: expected.digest },
      });
    }
    await writer.finish();
  } catch (error) {
    // Nothing may still be reading into, hashing or writing from the slots when they go back.
    await next?.filled.catch(ignore);
    await Promise.allSettled(busy);
    await writing.catch(ignore);
    await writer.discard().catch(ignore);
    throw error;
  } finally {
    hasher.release();
    await reader.close().catch(ignore);
  }
}

/** Fill `length` bytes (fewer only where the data ends early). */
async function readFully(
  reader: BlobReader,
  buffer: Buffer,
  length: number,
  position: number,
): Promise<number> {
  let filled = 0;
  while (filled < length) {
    const n = await reader.read(buffer, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return filled;
}
