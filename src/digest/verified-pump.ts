import { IntegrityError, SizeError } from "../errors.js";
import { digestFromHex } from "../types/digest.js";
import type { BlobReader, BlobWriter } from "../types/transport.js";
import { fillFrom } from "../util/positional-read.js";
import {
  type BlobHasher,
  type HashPool,
  mainThreadHasher,
  sharedHashPool,
  WORKER_MIN_BYTES,
} from "./hash-pool.js";
import type { ExpectedContent, VerdictCallback } from "./verifying-stream.js";

export interface PumpOptions {
  /** Where blobs of WORKER_MIN_BYTES or more are hashed (default: the shared pool). */
  pool?: HashPool;
  onBytes?: (count: number) => void;
  /** The first `bytes` bytes of the blob are written (told after each completed write). */
  onWritten?: (bytes: number) => void;
  /** The check's outcome, before the writer is finished (or discarded). */
  onVerdict?: VerdictCallback;
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
      return fillFrom((b, o, n, p) => reader.read(b, o, n, p), buffer.subarray(0, length), at);
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
        const short = new SizeError(what, size, done + count, {
          details: { digest: expected.digest },
        });
        options.onVerdict?.(short);
        throw short;
      }
      done += count;
      if (requested < size) next = request();
      const buffer = buffers[slot] as Buffer;
      const hashed = hasher.update(slot, count);
      const writtenAfter = done;
      const onWritten = options.onWritten;
      writing = writing.then(
        onWritten
          ? async () => {
              await writer.write(buffer, count);
              onWritten(writtenAfter);
            }
          : () => writer.write(buffer, count),
      );
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
      const mismatch = new IntegrityError(what, expected.digest, found, {
        details: { digest: expected.digest },
      });
      options.onVerdict?.(mismatch);
      throw mismatch;
    }
    options.onVerdict?.();
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
