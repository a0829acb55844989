import type { FileHandle } from "node:fs/promises";

/**
 * A positional read, like `FileHandle.read`: puts up to `length` bytes from `position` of the
 * data into `buffer` at `offset` and says how many came (0 only where the data ends).
 */
export type PositionalRead = (
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
) => Promise<number>;

/** `handle.read` as a PositionalRead. */
export function handleReads(handle: FileHandle): PositionalRead {
  return async (buffer, offset, length, position) =>
    (await handle.read(buffer, offset, length, position)).bytesRead;
}

/**
 * Fill all of `buffer` from `position` (positional reads may be short); the bytes read,
 * fewer only where the data ends.
 */
export function fillFrom(read: PositionalRead, buffer: Buffer, position: number): Promise<number> {
  return repeatShort(buffer.length, (filled) =>
    read(buffer, filled, buffer.length - filled, position + filled),
  );
}

/**
 * Repeat a transfer that may be short (a positional read or write): `step(done)` moves bytes
 * from offset `done` on and says how many. Stops when `total` bytes are done or a step moves
 * none; the bytes done.
 */
export async function repeatShort(
  total: number,
  step: (done: number) => Promise<number>,
): Promise<number> {
  let done = 0;
  while (done < total) {
    const n = await step(done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** The `length` bytes at `position` (fewer only where the data ends). */
export async function bytesAt(
  read: PositionalRead,
  position: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const filled = await fillFrom(read, buffer, position);
  return filled === length ? buffer : buffer.subarray(0, filled);
}
