/**
 * A blob's answer: HEAD, the whole blob, or one byte range of it.
 *
 * The whole blob is hashed as it is sent and its last chunk held back until the sha256 and the
 * size are known to match: a damaged blob file is never answered in full (the connection is
 * cut instead, which every client reports), so a client that does not check digests cannot
 * take it for the real one. A range cannot be checked alone; clients check the whole blob.
 *
 * A blob removed while it is being read (`ferry rmi` + `ferry gc`) is still read to its end
 * through the open file; a read that fails mid-way (an I/O error) cuts the connection, so the
 * answer is never taken for complete.
 */

import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Digest } from "../types/digest.js";
import { DistributionError } from "./distribution-error.js";
import type { Exchange } from "./exchange.js";
import { parseRange } from "./range.js";
import { DamagedStoreError, type OpenedBlob } from "./store-reader.js";

/** The digest of no bytes at all. */
const EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** Read with 1 MiB requests. */
const READ_CHUNK = 1024 * 1024;

/** Counts what goes out; for the whole blob, checks size and sha256 before the last chunk. */
class CheckedBody extends Transform {
  private readonly hash: Hash | undefined;
  private held: Buffer | undefined;
  private bytes = 0;

  constructor(
    private readonly exchange: Exchange,
    private readonly digest: Digest,
    private readonly expectedBytes: number,
    wholeBlob: boolean,
  ) {
    super();
    this.hash = wholeBlob ? createHash("sha256") : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.hash === undefined) {
      this.pass(chunk);
      done();
      return;
    }
    this.hash.update(chunk);
    if (this.held !== undefined) this.pass(this.held);
    this.held = chunk;
    done();
  }

  override _flush(done: TransformCallback): void {
    const fail = (error: Error) => {
      this.exchange.noteProblem(error);
      done(error);
    };
    if (this.bytes !== this.expectedBytes) {
      fail(
        new DamagedStoreError(
          `blob ${this.digest} ended after ${this.bytes} of ${this.expectedBytes} bytes`,
          this.digest,
        ),
      );
      return;
    }
    if (this.hash !== undefined) {
      const found = `sha256:${this.hash.digest("hex")}`;
      if (found !== this.digest) {
        fail(
          new DamagedStoreError(
            `blob ${this.digest} is damaged (its sha256 is ${found})`,
            this.digest,
          ),
        );
        return;
      }
      if (this.held !== undefined) this.pass(this.held);
    }
    done();
  }

  private pass(chunk: Buffer): void {
    this.exchange.sent += chunk.length;
    this.push(chunk);
  }
}

/** Answer with the opened blob (its handle is closed here, whatever happens). */
export async function sendBlob(
  exchange: Exchange,
  digest: Digest,
  blob: OpenedBlob,
): Promise<void> {
  const { handle, size } = blob;
  const response = exchange.response;
  let streaming = false;
  try {
    const headers: Record<string, string | number> = {
      "Content-Type": "application/octet-stream",
      "Docker-Content-Digest": digest,
      ETag: `"${digest}"`,
      "Accept-Ranges": "bytes",
      "Cache-Control": "max-age=31536000, immutable",
    };
    const ifRange = exchange.request.headers["if-range"];
    const range =
      ifRange === undefined || ifRange === headers.ETag
        ? parseRange(exchange.request.headers.range, size)
        : ({ kind: "whole" } as const);
    if (range.kind === "unsatisfiable") {
      throw new DistributionError(
        "RANGE_INVALID",
        "requested range not satisfiable",
        { size },
        { "Content-Range": `bytes */${size}` },
      );
    }
    const start = range.kind === "part" ? range.start : 0;
    const end = range.kind === "part" ? range.end : size - 1;
    const length = end - start + 1;
    if (length === 0 && digest !== EMPTY_DIGEST) {
      // Only an empty blob answers with no bytes (a range holds one at least). Checked before
      // any header is set, so the error answer carries none of a blob's (digest, caching).
      throw new DamagedStoreError(`blob ${digest} is empty`, digest);
    }
    response.statusCode = range.kind === "part" ? 206 : 200;
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    if (range.kind === "part") response.setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
    response.setHeader("Content-Length", length);
    if (exchange.head || length === 0) {
      response.end();
      return;
    }
    streaming = true;
    const file = handle.createReadStream({ start, end, highWaterMark: READ_CHUNK });
    file.once("error", (error) => exchange.noteProblem(error));
    await pipeline(
      file,
      new CheckedBody(exchange, digest, length, range.kind === "whole"),
      response,
    );
  } finally {
    if (!streaming) await handle.close().catch(() => {});
  }
}
