import type { BlobCache } from "../../cache/blob-cache.js";
import { FerryError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { BlobReader } from "../../types/transport.js";
import { type BlobOrigin, type DownloadOutcome, downloadBlob } from "./blob-download.js";
import { type BlobBook, isClaimed } from "./blob-states.js";
import type { RegistryClient } from "./client.js";
import { DownloadPipe } from "./download-pipe.js";
import { LandingJournal } from "./landing-journal.js";
import { LiveDownload } from "./live-download.js";
import type { MinRate } from "./min-rate.js";
import type { PendingWork } from "./pending-work.js";
import type { RetryPolicy } from "./retry.js";
import { TaskQueue } from "./task-queue.js";

/** What the network and the cache did during a command. */
export interface TransferStats {
  blobsDownloaded: number;
  bytesDownloaded: number;
  blobsFromCache: number;
  bytesFromCache: number;
  /** Downloads that went on from an earlier, cut attempt. */
  blobsResumed: number;
  bytesResumed: number;
}

/** One blob the copy engine will read from a registry. */
export interface BlobRequest {
  client: RegistryClient;
  repository: string;
  descriptor: Descriptor;
  /** `blob sha256:... of host/repo:tag`. */
  what: string;
  /** The copy engine waits for it: jump the queue. */
  urgent?: boolean;
  /**
   * Download through the cache's partial file even in a `direct` session: for bytes read by
   * something that writes them nowhere (the planner reading an image config).
   */
  throughCache?: boolean;
}

export interface DownloadSettings {
  /** Blob downloads at once. */
  jobs: number;
  /** Hand downloads straight to the engine (see `RegistrySessionOptions.direct`). */
  direct: boolean;
  retry: RetryPolicy;
  minRate: MinRate;
  /** Where a blob may come from, in order (the registry, a foreign layer's URLs). */
  originsFor: (request: BlobRequest) => BlobOrigin[];
  onNote?: (text: string) => void;
}

/**
 * A session's downloads: one bounded queue across all registries, each blob downloaded once,
 * into the cache's partial file or (direct) handed straight to the engine, readable while it
 * arrives. Moves blobs from nothing to `cached`, `downloading`, `downloaded`, and, when a
 * download fails, to `failed` (direct: its bytes lie in the engine's output) or `released`.
 */
export class BlobDownloads {
  readonly stats: TransferStats = {
    blobsDownloaded: 0,
    bytesDownloaded: 0,
    blobsFromCache: 0,
    bytesFromCache: 0,
    blobsResumed: 0,
    bytesResumed: 0,
  };
  /** Blobs the stats count already (each once per command). */
  private readonly counted = new Set<string>();
  private readonly queue: TaskQueue<void>;
  private readonly abort = new AbortController();

  constructor(
    private readonly cache: BlobCache,
    private readonly book: BlobBook,
    private readonly work: PendingWork,
    private readonly settings: DownloadSettings,
  ) {
    this.queue = new TaskQueue(Math.max(1, settings.jobs));
  }

  /**
   * Start downloading a blob the engine will read later (queued; nothing if cached). Not in a
   * `direct` session: a direct download waits for its reader before it takes more bytes, so
   * one started ahead of the engine would hold a download slot the engine's own reads need
   * (with `--jobs 1`, for ever); the engine reads as many blobs at once as it downloads.
   */
  prefetch(request: BlobRequest): void {
    if (this.settings.direct || this.inCacheNow(request.descriptor.digest)) return;
    this.start(request);
  }

  /**
   * Positional reads of a blob for the copy engine: the cache file when the blob is there,
   * else its download (started now, or found running), read as it grows.
   */
  async reader(request: BlobRequest): Promise<BlobReader> {
    const { descriptor } = request;
    const state = this.book.get(descriptor.digest);
    if (this.inCacheNow(descriptor.digest)) return this.cache.openReader(descriptor);
    if (state?.kind === "verified") {
      if (!state.publishing) {
        throw new FerryError("EINTERNAL", `${request.what}: its download went to another reader`);
      }
      await state.publishing;
      return this.reader(request);
    }
    if (!isClaimed(state) && (await this.cache.has(descriptor))) {
      this.servedFromCache(descriptor);
      return this.cache.openReader(descriptor);
    }
    const live = this.start({ ...request, urgent: true });
    if ((await live.ready) === "cached") return this.cache.openReader(descriptor);
    return live.reader();
  }

  /** Published into the cache, or kept there as a pointer, by this session. */
  private inCacheNow(digest: string): boolean {
    const state = this.book.get(digest);
    return state?.kind === "released" && (state.as === "published" || state.as === "pointer");
  }

  /** The download of a blob: the one this session has, else a new one (queued). */
  private start(request: BlobRequest): LiveDownload {
    const { descriptor } = request;
    const key = descriptor.digest;
    const state = this.book.get(key);
    if (isClaimed(state)) {
      if (request.urgent) this.queue.promote(key);
      return state.download;
    }
    const live = new LiveDownload(descriptor);
    this.book.move(key, { kind: "downloading", download: live });
    this.queue
      .run(key, () => this.run(live, request), request.urgent ?? false)
      .catch((error: unknown) => this.work.track(this.failed(live, error)));
    return live;
  }

  private async run(live: LiveDownload, request: BlobRequest): Promise<void> {
    const { descriptor } = request;
    if (this.abort.signal.aborted) throw new FerryError("EINTERNAL", "cancelled");
    if (await this.cache.has(descriptor)) {
      this.servedFromCache(descriptor);
      live.fromCache();
      return;
    }
    const claim = await this.cache.claimPartial(descriptor);
    if (this.settings.direct && !request.throughCache) {
      const pipe = new DownloadPipe(claim.file.length, descriptor.size, () => claim.file.reset());
      live.attach(claim, pipe, new LandingJournal(this.cache.located, descriptor));
    } else {
      live.attach(claim);
    }
    const outcome = await downloadBlob(
      live.pipe ?? claim.file,
      descriptor,
      this.settings.originsFor(request),
      {
        retry: this.settings.retry,
        minRate: this.settings.minRate,
        signal: this.abort.signal,
        what: request.what,
        ...(this.settings.onNote ? { onRetry: this.settings.onNote } : {}),
      },
    );
    this.countDownload(descriptor, outcome);
    this.book.move(descriptor.digest, { kind: "downloaded", download: live });
    live.finish(outcome.origin);
  }

  /**
   * A download failed: its readers fail with the error. A direct one's bytes sit where the
   * engine wrote them (the session salvages or lets them go later); any other is let go now,
   * what it had kept to resume from.
   */
  private async failed(live: LiveDownload, error: unknown): Promise<void> {
    live.fail(error);
    const digest = live.descriptor.digest;
    if (live.pipe) {
      this.book.move(digest, { kind: "failed", download: live });
      return;
    }
    const keep = live.claim !== undefined && live.claim.file.length > 0;
    await live.claim?.release(keep ? "keep" : "discard").catch(() => {});
    this.book.move(digest, {
      kind: "released",
      download: live,
      as: keep ? "partial" : "discarded",
    });
  }

  /** Cancel downloads, queued or running; direct ones stop waiting for a reader. */
  stop(): void {
    this.abort.abort();
    this.queue.cancelWaiting(new FerryError("EINTERNAL", "cancelled"));
    for (const download of this.book.downloads()) download.pipe?.abandon();
  }

  private servedFromCache(descriptor: Descriptor): void {
    const key = descriptor.digest;
    if (this.book.get(key)?.kind !== "cached") {
      this.book.move(key, { kind: "cached", size: descriptor.size });
    }
    if (this.counted.has(key)) return;
    this.counted.add(key);
    this.stats.blobsFromCache++;
    this.stats.bytesFromCache += descriptor.size;
  }

  private countDownload(descriptor: Descriptor, outcome: DownloadOutcome): void {
    this.counted.add(descriptor.digest);
    if (outcome.attempts === 0) {
      // An earlier run downloaded all of it (no copy verified it then): no network at all.
      this.stats.blobsFromCache++;
      this.stats.bytesFromCache += descriptor.size;
      return;
    }
    this.stats.blobsDownloaded++;
    this.stats.bytesDownloaded += outcome.bytesFetched;
    if (outcome.resumedFrom > 0) {
      this.stats.blobsResumed++;
      this.stats.bytesResumed += outcome.resumedFrom;
    }
  }
}
