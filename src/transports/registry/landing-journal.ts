import type { LocatedBlobs } from "../../cache/located.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { BlobLocation } from "../../types/transport.js";

/** Journal a landing every this many bytes (a killed save re-downloads up to this)... */
const JOURNAL_EVERY_BYTES = 4 * 1024 * 1024;
/** ...or this long after the last change, whichever comes first (a stalled download). */
const JOURNAL_AFTER_MS = 250;

/**
 * Where the engine wrote the bytes of a download handed straight to it (its `blob-landed`
 * events: a file of the engine's sink, from an offset), how many, and whether the engine
 * verified them, kept up to date in the cache's journal (see `LocatedBlobs.journal`) so a
 * later run can take the bytes over if this one is killed. One write at a time; updates that
 * arrive meanwhile are folded into the next one. A small blob that lands within 250 ms is
 * never journaled: a kill costs it one download, and every blob saved a file write.
 */
export class LandingJournal {
  /** Where the bytes are, once the engine said. */
  location: BlobLocation | undefined;
  /** Bytes from the blob's start written at `location`. */
  bytes = 0;
  /** The engine verified every byte. */
  verified = false;
  /** Bytes the journal says landed (0 while there is no entry). */
  private journaled = 0;
  /** An entry exists (or is being written). */
  private written = false;
  private writing: Promise<void> | undefined;
  private again = false;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly located: LocatedBlobs,
    private readonly descriptor: Descriptor,
  ) {}

  /** The first `bytes` bytes are written at `location`. */
  landed(location: BlobLocation, bytes: number): void {
    this.location = location;
    this.bytes = bytes;
    this.update();
  }

  /** The engine verified all of the blob: say so in the journal now. */
  markVerified(): void {
    this.verified = true;
    this.update(true);
  }

  /**
   * The landing moved on: write it down once 4 MiB more landed, else 250 ms after the last
   * change; `force`: now (if there is an entry, or anything landed).
   */
  private update(force = false): void {
    if (this.ended || !this.location) return;
    const moved = this.bytes - this.journaled;
    const due = force ? this.written || moved > 0 : moved >= JOURNAL_EVERY_BYTES;
    if (!due) {
      if (moved > 0) this.later();
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writing) {
      this.again = true;
      return;
    }
    this.write();
  }

  private later(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.update(true);
    }, JOURNAL_AFTER_MS).unref();
  }

  private write(): void {
    const location = this.location;
    if (!location) return;
    const length = this.bytes;
    this.written = true;
    this.writing = this.located
      .journal({
        digest: this.descriptor.digest,
        size: this.descriptor.size,
        file: location.file,
        offset: location.offset,
        length,
        verified: this.verified,
      })
      .catch(() => {
        // A journal that cannot be written only costs a killed run its resume.
      })
      .then(() => {
        this.journaled = length;
        this.writing = undefined;
        if (this.again) {
          this.again = false;
          this.update(true);
        }
      });
  }

  /** The bytes are accounted for elsewhere (kept, salvaged or dropped): remove the entry. */
  async end(): Promise<void> {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.writing) await this.writing;
    if (this.written) await this.located.endJournal(this.descriptor.digest).catch(() => {});
  }
}
