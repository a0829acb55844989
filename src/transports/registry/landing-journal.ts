import type { LocatedBlobs } from "../../cache/located.js";
import type { LiveDownload } from "./live-download.js";

/** Journal a landing every this many bytes (a killed save re-downloads up to this)... */
const JOURNAL_EVERY_BYTES = 4 * 1024 * 1024;
/** ...or this long after the last change, whichever comes first (a stalled download). */
const JOURNAL_AFTER_MS = 250;

/**
 * Keeps the cache's journal entry for one download that lands straight in a file of the
 * reader's (see `LocatedBlobs.journal`) up to date: where, how many bytes, whether verified.
 * One write at a time; updates that arrive meanwhile are folded into the next one. A small
 * blob that lands within 250 ms is never journaled: a kill costs it one download, and every
 * blob saved a file write.
 */
export class LandingJournal {
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
    private readonly live: LiveDownload,
  ) {}

  /**
   * The landing moved on: write it down once 4 MiB more landed, else 250 ms after the last
   * change; `force`: now (if there is an entry, or anything landed).
   */
  update(force = false): void {
    const { live } = this;
    if (this.ended || !live.location) return;
    const moved = live.landed - this.journaled;
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
    const { live } = this;
    const location = live.location;
    if (!location) return;
    const length = live.landed;
    this.written = true;
    this.writing = this.located
      .journal({
        digest: live.descriptor.digest,
        size: live.descriptor.size,
        file: location.file,
        offset: location.offset,
        length,
        verified: live.verified,
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
    if (this.written) await this.located.endJournal(this.live.descriptor.digest).catch(() => {});
  }
}
