import { createHash } from "node:crypto";
import { IntegrityError, SizeError } from "../errors.js";
import { digestFromHex } from "../types/digest.js";
import type { BlobReader, BlobWriter } from "../types/transport.js";
import type { ExpectedContent } from "./verifying-stream.js";

/** 1 MiB reads: few syscalls, and each chunk stays in cache between read, hash and write. */
export const PUMP_CHUNK = 1024 * 1024;

/**
 * Copy one blob from a positional reader to a writer through three reused buffers: while chunk
 * i is hashed (main thread), chunk i+1 is read and chunk i-1 written (libuv pool). Memory is
 * 3 MiB per blob whatever its size, nothing is allocated per chunk, and the writer is finished
 * only when size and sha256 match — discarded otherwise.
 */
export async function pumpVerified(
  reader: BlobReader,
  writer: BlobWriter,
  expected: ExpectedContent,
  what: string,
  onBytes?: (count: number) => void,
): Promise<void> {
  const size = expected.size;
  const chunk = Math.max(1, Math.min(PUMP_CHUNK, size));
  const ring = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  const hash = createHash("sha256");
  let requested = 0;
  let slot = 0;
  const readNext = (): Promise<{ buffer: Buffer; length: number }> => {
    const buffer = ring[slot % 3] as Buffer;
    slot++;
    const at = requested;
    const length = Math.min(chunk, size - at);
    requested += length;
    return readFully(reader, buffer, length, at).then((n) => ({ buffer, length: n }));
  };
  let writing: Promise<void> = Promise.resolve();
  try {
    let done = 0;
    let next = size > 0 ? readNext() : undefined;
    while (next) {
      const { buffer, length } = await next;
      if (length === 0)
        throw new SizeError(what, size, done, { details: { digest: expected.digest } });
      done += length;
      next = requested < size ? readNext() : undefined;
      hash.update(buffer.subarray(0, length));
      onBytes?.(length);
      await writing;
      writing = writer.write(buffer, length);
    }
    await writing;
    if (done !== size)
      throw new SizeError(what, size, done, { details: { digest: expected.digest } });
    const found = digestFromHex(hash.digest("hex"));
    if (found !== expected.digest) {
      throw new IntegrityError(what, expected.digest, found, {
        details: { digest: expected.digest },
      });
    }
    await writer.finish();
  } catch (error) {
    await writing.catch(() => {});
    await writer.discard().catch(() => {});
    throw error;
  } finally {
    await reader.close().catch(() => {});
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
