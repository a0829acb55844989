import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { type FerryError, IntegrityError, SizeError } from "../errors.js";
import { type Digest, digestFromHex } from "../types/digest.js";

export interface ExpectedContent {
  digest: Digest;
  size: number;
}

/**
 * Told the outcome of a check, once, as soon as it is known: no argument when size and sha256
 * matched, else the ESIZE or EINTEGRITY error the check fails with.
 */
export type VerdictCallback = (rejection?: FerryError) => void;

/**
 * Passes bytes through while computing their sha256 and counting them. Fails with ESIZE as
 * soon as more bytes than declared arrive, and at the end with ESIZE or EINTEGRITY. Data went
 * downstream before the verdict, so every sink stages what it writes and keeps it only when
 * the stream ends without error.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash("sha256");
  private bytes = 0;

  constructor(
    private readonly expected: ExpectedContent,
    private readonly what: string,
    private readonly onBytes?: (count: number) => void,
    private readonly onVerdict?: VerdictCallback,
  ) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      callback(this.reject(new SizeError(this.what, this.expected.size, this.bytes, this.facts())));
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes !== this.expected.size) {
      callback(this.reject(new SizeError(this.what, this.expected.size, this.bytes, this.facts())));
      return;
    }
    const found = digestFromHex(this.hash.digest("hex"));
    if (found !== this.expected.digest) {
      callback(
        this.reject(new IntegrityError(this.what, this.expected.digest, found, this.facts())),
      );
      return;
    }
    this.onVerdict?.();
    callback();
  }

  private reject(error: FerryError): FerryError {
    this.onVerdict?.(error);
    return error;
  }

  private facts(): { details: Record<string, unknown> } {
    return { details: { digest: this.expected.digest } };
  }
}

/** Check bytes in memory against a digest and size (manifests, configs, small files). */
export function verifyBytes(bytes: Uint8Array, expected: ExpectedContent, what: string): void {
  if (bytes.length !== expected.size) {
    throw new SizeError(what, expected.size, bytes.length, {
      details: { digest: expected.digest },
    });
  }
  const found = digestFromHex(createHash("sha256").update(bytes).digest("hex"));
  if (found !== expected.digest) {
    throw new IntegrityError(what, expected.digest, found, {
      details: { digest: expected.digest },
    });
  }
}
