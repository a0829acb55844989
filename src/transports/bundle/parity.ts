import { type FileHandle, open } from "node:fs/promises";
import { fromSystemError } from "../../errors.js";
import { readFully } from "./random-access.js";

/**
 * XOR parity for split volumes: byte i of the parity volume is the XOR of byte i of every part
 * (short parts count as zero-padded). Any one part is the XOR of the parity and all the other
 * parts, cut to its size. The parity volume is as large as the largest part — the least any
 * code can use to rebuild any one whole part.
 */

/**
 * target ^= source over the first `length` bytes (both at least that long). Whole 64-bit words
 * (V8 compiles BigUint64Array XOR to plain 64-bit operations: about 5 GB/s here) when both
 * views sit at the same offset modulo 8 (callers arrange that), bytes otherwise.
 */
export function xorInto(target: Uint8Array, source: Uint8Array, length = source.length): void {
  let i = 0;
  if (target.byteOffset % 8 === source.byteOffset % 8) {
    while (i < length && (target.byteOffset + i) % 8 !== 0) {
      target[i] = (target[i] as number) ^ (source[i] as number);
      i++;
    }
    const words = Math.floor((length - i) / 8);
    const t = new BigUint64Array(target.buffer, target.byteOffset + i, words);
    const s = new BigUint64Array(source.buffer, source.byteOffset + i, words);
    for (let w = 0; w < words; w++) t[w] = (t[w] as bigint) ^ (s[w] as bigint);
    i += words * 8;
  }
  for (; i < length; i++) target[i] = (target[i] as number) ^ (source[i] as number);
}

/** A buffer whose memory starts on an 8-byte boundary (fast XOR). */
export function alignedBuffer(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(size));
}

/** A file taking part in an XOR: where it is and how many bytes of it count. */
export interface XorSource {
  path: string;
  size: number;
}

const XOR_CHUNK = 4 * 1024 * 1024;
/** Above this many sources, files are reopened for each chunk rather than all held open. */
const MAX_HELD = 128;

/**
 * The XOR of `sources` (each zero-padded) over bytes [0, size), a chunk at a time, in order:
 * the parity of parts, or a lost part from the parity and the others. `onChunk` must be done
 * with the chunk before it returns (the buffer is reused). Sources are only read.
 */
export async function xorVolumes(
  sources: XorSource[],
  size: number,
  onChunk: (chunk: Buffer, at: number) => Promise<void>,
  hint: string,
): Promise<void> {
  const held = new Map<string, FileHandle>();
  const accumulator = alignedBuffer(Math.min(XOR_CHUNK, Math.max(size, 1)));
  const data = alignedBuffer(accumulator.length);
  try {
    for (let at = 0; at < size; at += accumulator.length) {
      const chunk = accumulator.subarray(0, Math.min(accumulator.length, size - at));
      chunk.fill(0);
      for (const source of sources) {
        const available = Math.min(chunk.length, source.size - at);
        if (available <= 0) continue;
        let handle = held.get(source.path);
        if (!handle) {
          handle = await open(source.path, "r").catch((error: unknown) => {
            throw fromSystemError(error, source.path, "reading");
          });
          held.set(source.path, handle);
        }
        const piece = data.subarray(0, available);
        await readFully(handle, piece, at, source.path, hint);
        xorInto(chunk, piece);
      }
      if (held.size > MAX_HELD) {
        for (const handle of held.values()) await handle.close().catch(() => {});
        held.clear();
      }
      await onChunk(chunk, at);
    }
  } finally {
    for (const handle of held.values()) await handle.close().catch(() => {});
  }
}
