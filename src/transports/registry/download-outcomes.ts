import type { BlobCache } from "../../cache/blob-cache.js";
import { FerryError, isFerryError } from "../../errors.js";
import type { BlobEvent } from "../../types/copy-events.js";
import type { Digest } from "../../types/digest.js";
import type { BlobLocation } from "../../types/transport.js";
import type { BlobBook, Claimed, Release } from "./blob-states.js";
import { isClaimed } from "./blob-states.js";
import type { LiveDownload } from "./live-download.js";
import type { PendingWork } from "./pending-work.js";

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * What becomes of the blobs a session served, decided by the copy engine's events about them
 * (`BlobEvent`, heard through the session's sources) and by what became of the engine's
 * output:
 *
 * - `blob-landed`: a direct download's bytes are at this file and offset: its landing journal
 *   tracks them there;
 * - `blob-verified` (of a download the engine read to its end): published into the cache, or,
 *   direct, kept for a pointer into the finished output (`keepLocated`);
 * - `blob-rejected`: the download is dropped (never kept to resume from), a damaged cache entry
 *   evicted;
 * - an output given up (`salvage`): what landed in it is copied into the cache first;
 * - the session's end (`releaseAll`): whatever is still held is let go, kept to resume from.
 */
export class DownloadOutcomes {
  constructor(
    private readonly cache: BlobCache,
    private readonly book: BlobBook,
    private readonly work: PendingWork,
    private readonly onNote?: (text: string) => void,
  ) {}

  /** The engine's events about blobs this session serves. */
  hear(event: BlobEvent): void {
    if (event.type === "blob-landed") {
      const state = this.book.get(event.digest);
      if (isClaimed(state)) state.download.landing?.landed(event.location, event.bytes);
    } else if (event.type === "blob-verified") {
      this.verified(event.digest);
    } else if (event.type === "blob-rejected") {
      this.rejected(event.digest);
    }
  }

  private verified(digest: string): void {
    const state = this.book.get(digest);
    // The verdict is on bytes the engine read from this download, all of them.
    if (state?.kind !== "downloaded" || !state.download.readToEnd) return;
    const live = state.download;
    if (live.pipe) {
      // Nothing to publish: the bytes are in the engine's output, kept by `keepLocated`.
      this.book.move(digest, { kind: "verified", download: live });
      live.landing?.markVerified();
      return;
    }
    const publishing = this.work.track(this.publish(digest, live));
    this.book.move(digest, { kind: "verified", download: live, publishing });
  }

  private async publish(digest: string, live: LiveDownload): Promise<void> {
    const claim = live.claim;
    let as: Release = "published";
    try {
      await live.finished;
      await claim?.release("published");
    } catch (error) {
      as = "partial";
      await claim?.release("keep").catch(() => {});
      this.onNote?.(`${digest} was not kept in the download cache: ${messageOf(error)}`);
    }
    this.book.move(digest, { kind: "released", download: live, as });
  }

  private rejected(digest: string): void {
    const state = this.book.get(digest);
    if (state?.kind === "downloaded") void this.drop(digest, state.download);
    else if (state?.kind === "cached") void this.evict(digest);
  }

  /** Bytes found bad: nothing of them is kept, not even to resume from. */
  private drop(digest: string, live: LiveDownload): Promise<void> {
    this.book.move(digest, { kind: "rejected", download: live });
    return this.work.track(
      (async () => {
        await live.landing?.end();
        await live.claim?.release("discard").catch(() => {});
      })(),
    );
  }

  /** The cache's copy (or the bundle a pointer names) was damaged: forget it. */
  private evict(digest: string): Promise<void> {
    this.book.move(digest, { kind: "rejected" });
    return this.work.track(this.cache.evict(digest as Digest));
  }

  /**
   * Turn an integrity failure of a blob into advice: one downloaded in this run is deleted
   * (never kept to resume from) and the message says where the bytes came from; a damaged copy
   * an earlier run left in the cache is removed. Either way the next run downloads it afresh.
   * (The engine's rejection dropped them already; a config the planner found bad is dropped
   * here.)
   */
  async explain(error: unknown): Promise<unknown> {
    if (!isFerryError(error) || (error.code !== "EINTEGRITY" && error.code !== "ESIZE")) {
      return error;
    }
    if (error.details.explained === true) return error;
    const digest = error.details.digest;
    if (typeof digest !== "string") return error;
    const state = this.book.get(digest);
    if (state?.kind === "downloaded") await this.drop(digest, state.download);
    else if (state?.kind === "cached") await this.evict(digest);
    await this.work.settled();
    const now = this.book.get(digest);
    if (now?.kind !== "rejected") return error;
    if (now.download) {
      return new FerryError(
        error.code,
        `${error.message} (the bytes came from ${now.download.origin ?? "the registry"})`,
        {
          hint: "the server sent bytes that do not match the digest: nothing was kept; run the same command again to download it afresh, and if it fails again, tell the registry's owner",
          details: { ...error.details, explained: true },
          cause: error,
        },
      );
    }
    return new FerryError(
      error.code,
      `${error.message} (the copy in the download cache ${this.cache.dir} was damaged)`,
      {
        hint: "the damaged copy was removed from the cache: run the same command again to download it afresh",
        details: { ...error.details, explained: true },
        cause: error,
      },
    );
  }

  /**
   * The output the engine wrote direct downloads into is complete, with each blob at
   * `locations` (its final name): the cache keeps pointers to the verified ones there, and to
   * blobs it served from pointers into older outputs (the newest output is likelier to stay).
   */
  async keepLocated(locations: ReadonlyMap<string, BlobLocation>): Promise<void> {
    for (const [digest, location] of locations) {
      const state = this.book.get(digest);
      if (state?.kind === "verified" && state.download.pipe) {
        const live = state.download;
        this.book.move(digest, { kind: "released", download: live, as: "pointer" });
        await this.point(digest, live.descriptor.size, location);
        await live.landing?.end();
        await live.claim?.release("discard").catch(() => {});
      } else if (state?.kind === "cached" && !(await this.cache.hasCopy(digest as Digest))) {
        await this.point(digest, state.size, location);
      }
    }
  }

  private async point(digest: string, size: number, location: BlobLocation): Promise<void> {
    await this.cache.located.keep(digest as Digest, size, location).catch((error: unknown) => {
      this.onNote?.(`${digest} was not kept in the download cache: ${messageOf(error)}`);
    });
  }

  /**
   * The output direct downloads were written into is about to be removed (the copy failed;
   * downloads are stopped): copy what landed there into the cache first — verified blobs into
   * `blobs/`, cut ones into `partial/` to resume from — so the next run downloads only the
   * rest. (Blobs the engine rejected were dropped when it said so.)
   */
  async salvage(): Promise<void> {
    const direct = () => this.book.claimed().filter(([, state]) => state.download.pipe);
    await Promise.allSettled(direct().map(([, state]) => state.download.finished));
    await this.work.settled();
    for (const [digest, state] of direct()) {
      const live = state.download;
      const as = await this.salvageOne(state).catch((error: unknown): Release => {
        this.onNote?.(
          `${digest}: what was downloaded could not be kept in the cache: ${messageOf(error)}`,
        );
        return "partial";
      });
      this.book.move(digest, { kind: "released", download: live, as });
      await live.landing?.end();
    }
  }

  private async salvageOne(state: Claimed): Promise<Release> {
    const live = state.download;
    const claim = live.claim;
    if (!claim) return "discarded";
    const { digest, size } = live.descriptor;
    const location = live.landing?.location;
    const landed = live.landing?.bytes ?? 0;
    // Bytes found bad while passed on (the server ignored a range request): nothing is kept.
    const bad = live.pipe?.discarded === true;
    if (bad || !location || landed <= claim.file.length) {
      const keep = !bad && claim.file.length > 0;
      await claim.release(keep ? "keep" : "discard");
      return keep ? "partial" : "discarded";
    }
    // The claim goes first (its lock); its partial holds at most a prefix of what landed. A
    // write that failed stops the landing short of the end, even when the engine read further.
    await claim.release("keep");
    await this.cache.keepRegion(
      digest,
      location,
      landed,
      state.kind === "verified" && landed === size,
    );
    return "salvaged";
  }

  /**
   * The session ends (downloads stopped): let go of every download still held. Cut and
   * unverified ones are kept to resume from (the next copy verifies them); a verified direct
   * download's bytes are in an output the session was not told about, and one found bad while
   * passed on is dropped.
   */
  async releaseAll(): Promise<void> {
    await this.work.settled();
    await Promise.allSettled(this.book.downloads().map((live) => live.finished));
    await this.work.settled();
    for (const [digest, state] of this.book.claimed()) {
      const live = state.download;
      const drop = state.kind === "verified" || live.pipe?.discarded === true;
      this.book.move(digest, {
        kind: "released",
        download: live,
        as: drop ? "discarded" : "partial",
      });
      await live.claim?.release(drop ? "discard" : "keep").catch(() => {});
      await live.landing?.end();
    }
  }
}
