import { type FileHandle, open } from "node:fs/promises";
import type { PartialClaim } from "../../cache/blob-cache.js";
import { fromSystemError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { BlobReader } from "../../types/transport.js";
import type { DownloadPipe } from "./download-pipe.js";
import type { LandingJournal } from "./landing-journal.js";

/**
 * One blob a session downloads, readable while it arrives: the copy engine reads (and hashes)
 * bytes as soon as they are there, instead of waiting for the whole blob. Either the bytes go
 * into the cache's partial file (the reader follows it as it grows), or (`pipe`) they are
 * handed straight to the reader, which writes them into a file of its own (a bundle): the
 * download then tracks where they landed (`landing`, from the engine's events) instead of
 * keeping a copy. What becomes of the download is the session's business (`BlobState`).
 */
export class LiveDownload {
  /** Bytes on disk, contiguous from byte 0 (back to 0 when the download starts over). */
  length = 0;
  /** All `size` bytes are on disk. */
  complete = false;
  /** Why the download failed, if it did. */
  error: unknown;
  /** The claimed partial file, once the download started. */
  claim: PartialClaim | undefined;
  /** Where the bytes came from (for messages), once known. */
  origin: string | undefined;
  /** Some reader got the blob's last byte (the engine has read all of it). */
  readToEnd = false;
  /** Bytes handed straight to the reader (after a prefix in the partial file), if so. */
  pipe: DownloadPipe | undefined;
  /** With a pipe: where the reader wrote the bytes, and how many (journaled in the cache). */
  landing: LandingJournal | undefined;
  /** Resolves when the download has its partial ("partial") or found the blob cached. */
  readonly ready: Promise<"partial" | "cached">;
  /** Settles when the download ended: every byte on disk, or failed. */
  readonly finished: Promise<void>;
  private waiters: Array<() => void> = [];
  private settle: { ready: (how: "partial" | "cached") => void; done: () => void } = {
    ready: () => {},
    done: () => {},
  };
  private reject: (error: unknown) => void = () => {};

  constructor(readonly descriptor: Descriptor) {
    let rejectReady: (error: unknown) => void = () => {};
    let rejectDone: (error: unknown) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      this.settle.ready = resolve;
      rejectReady = reject;
    });
    this.finished = new Promise((resolve, reject) => {
      this.settle.done = resolve;
      rejectDone = reject;
    });
    this.ready.catch(() => {});
    this.finished.catch(() => {});
    this.reject = (error) => {
      rejectReady(error);
      rejectDone(error);
    };
  }

  /** The blob was in the cache after all (another process put it there): nothing to download. */
  fromCache(): void {
    this.complete = true;
    this.settle.ready("cached");
    this.settle.done();
  }

  /**
   * The download has its partial file: follow its growth (or the pipe's, when given, whose
   * landing the journal tracks).
   */
  attach(claim: PartialClaim, pipe?: DownloadPipe, landing?: LandingJournal): void {
    this.claim = claim;
    this.pipe = pipe;
    this.landing = landing;
    if (pipe) {
      this.length = pipe.length;
      pipe.onChange = () => {
        this.length = pipe.length;
        this.wake();
      };
    } else {
      this.length = claim.file.length;
      claim.file.onChange = (length) => {
        this.length = length;
        this.wake();
      };
    }
    this.settle.ready("partial");
  }

  /** Every byte is on disk. */
  finish(origin: string | undefined): void {
    this.complete = true;
    this.origin = origin;
    this.settle.done();
    this.wake();
  }

  /** The download failed: readers fail with the same error. */
  fail(error: unknown): void {
    this.error ??= error;
    this.reject(error);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * A reader of the partial as it grows. Reads wait for bytes the download has not written yet
   * and fail with the download's error; a read never returns 0 before the end of the blob. The
   * blob's last byte is handed out only once the download ended cleanly (the response ended
   * there: a server sending more than the declared size fails the copy with ESIZE).
   */
  async reader(): Promise<BlobReader> {
    await this.ready;
    const claim = this.claim as PartialClaim;
    const path = claim.file.path;
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      throw fromSystemError(error, path, "reading");
    }
    const size = this.descriptor.size;
    const pipe = this.pipe;
    return {
      followsDownload: true,
      read: async (buffer, offset, length, position) => {
        if (pipe) pipe.readerBegan = true;
        while (true) {
          if (this.error !== undefined) throw this.error;
          const end = this.complete ? Math.min(this.length, size) : Math.min(this.length, size - 1);
          const available = end - position;
          if (pipe && position >= pipe.prefix) {
            const count = available > 0 ? pipe.take(buffer, offset, length, position, end) : 0;
            if (count > 0) {
              if (position + count >= size) this.readToEnd = true;
              return count;
            }
            if (this.complete || position >= size) return 0;
            await this.changed();
            continue;
          }
          // With a pipe, only the prefix comes from the file.
          const fromFile = pipe ? Math.min(available, pipe.prefix - position) : available;
          if (fromFile > 0) {
            let count: number;
            try {
              count = (await handle.read(buffer, offset, Math.min(length, fromFile), position))
                .bytesRead;
            } catch (error) {
              throw fromSystemError(error, path, "reading");
            }
            if (count > 0) {
              if (position + count >= size) this.readToEnd = true;
              return count;
            }
            // Shorter than the download said: it started over (wait for the bytes again), or
            // something cut the finished file (the engine reports the short blob).
            if (this.complete) return 0;
          } else if (this.complete || position >= size) {
            return 0;
          }
          await this.changed();
        }
      },
      close: async () => {
        pipe?.abandon();
        await handle.close();
      },
    };
  }
}
