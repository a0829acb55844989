import type http from "node:http";
import { BlobCache } from "../../cache/blob-cache.js";
import { FerryError, isFerryError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { Digest } from "../../types/digest.js";
import { isForeignLayerMediaType } from "../../types/media-types.js";
import type { ProxyConfig } from "../../types/proxy.js";
import type { BlobLocation, BlobReader } from "../../types/transport.js";
import { type BlobOrigin, downloadBlob } from "./blob-download.js";
import { RegistryClient } from "./client.js";
import type { CredentialLookup } from "./credentials.js";
import { DownloadPipe } from "./download-pipe.js";
import {
  allowsPlainHttp,
  defaultCertsDirs,
  type EndpointPolicy,
  tlsSettingsFor,
} from "./endpoint.js";
import { createAgent } from "./http.js";
import { LandingJournal } from "./landing-journal.js";
import { LiveDownload } from "./live-download.js";
import { DEFAULT_MIN_RATE_BYTES_PER_SECOND, type MinRate } from "./min-rate.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.js";
import { TaskQueue } from "./task-queue.js";
import { httpUrlsOf, urlOrigin } from "./url-origin.js";

export interface RegistrySessionOptions {
  credentials: CredentialLookup;
  /** The download cache folder (see `defaultCacheDir`). */
  cacheDir: string;
  /** Blob downloads at once, across all registries (default 4). */
  jobs?: number;
  retry?: Partial<RetryPolicy>;
  /** Fail a connection that moves no byte for this long (default 60 s). */
  stallTimeoutMs?: number;
  /**
   * The longest a request waits for its answer (default 120 s): the whole answer for small ones
   * (pings, tokens, manifests, tag lists), the response head for blobs.
   */
  requestTimeoutMs?: number;
  /**
   * The slowest a blob body may arrive (default 1 KiB/s over a window of `stallTimeoutMs`;
   * `bytesPerSecond` 0: no floor). See `RateFloor`.
   */
  minRate?: Partial<MinRate>;
  insecureRegistries?: string[];
  /**
   * Extra CA certificates (PEM text), trusted in addition to Node's default ones; the CLI puts
   * NODE_EXTRA_CA_CERTS here too (see `readNodeExtraCaCertificates`).
   */
  caCertificates?: string[];
  /** Docker's per-registry certificate folders (default: `defaultCertsDirs()`). */
  certsDirs?: string[];
  /** One certificate folder instead of the default ones (tests). */
  certsDir?: string;
  /** The proxies every request goes through (see `proxyConfigFrom`); undefined: none. */
  proxy?: ProxyConfig;
  userAgent?: string;
  /** Retries, resumes and other things a user may want to know about. */
  onNote?: (text: string) => void;
  /**
   * Hand downloads straight to the copy engine instead of through the cache's partial files
   * (for a sink that writes each blob contiguously into one file, a single-file bundle): the
   * cache journals where the bytes landed, keeps pointers to them once the output is complete
   * (`keepLocated`), and copies them in if the output is given up (`salvage`).
   */
  direct?: boolean;
  /** Stop every download when this aborts (an interrupted command): their readers fail. */
  signal?: AbortSignal;
}

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

export const DEFAULT_STALL_TIMEOUT_MS = 60_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

/** The speed floor for blob bodies from the options (see `RegistrySessionOptions.minRate`). */
export function minRateOf(
  options: Pick<RegistrySessionOptions, "minRate" | "stallTimeoutMs">,
): MinRate {
  return {
    bytesPerSecond: options.minRate?.bytesPerSecond ?? DEFAULT_MIN_RATE_BYTES_PER_SECOND,
    windowMs: options.minRate?.windowMs ?? options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
  };
}

/** What a lone client needs (login, logout): a session's options without the cache. */
export type ClientOptions = Omit<RegistrySessionOptions, "cacheDir" | "jobs" | "onNote">;

/** The endpoint rules of a session's options (TLS, http). */
function endpointPolicy(options: ClientOptions): EndpointPolicy {
  return {
    insecureRegistries: options.insecureRegistries ?? [],
    caCertificates: options.caCertificates ?? [],
    certsDirs: options.certsDirs ?? (options.certsDir ? [options.certsDir] : defaultCertsDirs()),
  };
}

/** A client for one registry with the session's endpoint rules (TLS, http, proxy, retries). */
export async function openClient(
  registry: string,
  options: ClientOptions,
): Promise<RegistryClient> {
  const policy = endpointPolicy(options);
  return new RegistryClient({
    registry,
    credentials: options.credentials,
    tls: await tlsSettingsFor(registry, policy),
    plainHttpAllowed: allowsPlainHttp(registry, policy),
    insecureRegistries: policy.insecureRegistries,
    caCertificates: policy.caCertificates,
    ...(options.proxy ? { proxy: options.proxy } : {}),
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    userAgent: options.userAgent ?? "ferry",
  });
}

/**
 * Everything a command shares while it talks to registries: one client per registry (its
 * connections, TLS settings and tokens), the download cache, and one bounded download queue,
 * so `--jobs` limits downloads across all images and registries together.
 *
 * Blobs are downloaded into partial files of the cache and handed to the copy engine while
 * they grow (`blobReader`); the engine hashes every byte it reads, once, and only after its
 * verdict (`blobVerified`) is the partial published into the cache under its digest. A blob
 * already in the cache is read from there (and hashed by the engine again).
 */
export class RegistrySession {
  readonly stats: TransferStats = {
    blobsDownloaded: 0,
    bytesDownloaded: 0,
    blobsFromCache: 0,
    bytesFromCache: 0,
    blobsResumed: 0,
    bytesResumed: 0,
  };
  private readonly clients = new Map<string, Promise<RegistryClient>>();
  private readonly queue: TaskQueue<void>;
  private readonly abort = new AbortController();
  private readonly counted = new Set<string>();
  /** Blobs served from a cache filled by an earlier command (not checked again by the session). */
  private readonly fromEarlierRuns = new Set<string>();
  /** Sizes of the blobs served from the cache, by digest. */
  private readonly servedSizes = new Map<string, number>();
  /** Downloads of this session, by digest (a failed one is dropped: asking again retries). */
  private readonly downloads = new Map<string, LiveDownload>();
  private readonly publishing = new Set<Promise<void>>();
  /** Journals of downloads handed straight to the engine (`direct`), by digest. */
  private readonly journals = new Map<string, LandingJournal>();
  /** Every direct download of this session, failed ones too (their bytes may need saving). */
  private readonly directDownloads = new Set<LiveDownload>();
  private readonly urlAgents = new Map<string, http.Agent>();
  private readonly retry: RetryPolicy;
  private readonly policy: EndpointPolicy;
  private readonly stallTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly minRate: MinRate;
  private readonly userAgent: string;

  private constructor(
    readonly cache: BlobCache,
    private readonly options: RegistrySessionOptions,
  ) {
    this.queue = new TaskQueue(Math.max(1, options.jobs ?? 4));
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.policy = endpointPolicy(options);
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.minRate = minRateOf(options);
    this.userAgent = options.userAgent ?? "ferry";
    options.signal?.addEventListener("abort", () => this.stopDownloads(), { once: true });
  }

  static async open(options: RegistrySessionOptions): Promise<RegistrySession> {
    return new RegistrySession(await BlobCache.open(options.cacheDir), options);
  }

  /** The client for a registry (`docker.io`, `host:5000`), made once. */
  client(registry: string): Promise<RegistryClient> {
    let client = this.clients.get(registry);
    if (!client) {
      client = openClient(registry, this.options);
      this.clients.set(registry, client);
    }
    return client;
  }

  /**
   * Start downloading a blob the engine will read later (queued; nothing if cached). Not in a
   * `direct` session: a direct download waits for its reader before it takes more bytes, so
   * one started ahead of the engine would hold a download slot the engine's own reads need
   * (with `--jobs 1`, for ever); the engine reads as many blobs at once as it downloads.
   */
  prefetch(request: BlobRequest): void {
    if (this.options.direct) return;
    this.download(request);
  }

  /**
   * Positional reads of a blob for the copy engine: the cache file when the blob is there,
   * else its download (started now, or found running), read as it grows.
   */
  async blobReader(request: BlobRequest): Promise<BlobReader> {
    const { descriptor } = request;
    if (!this.downloads.has(descriptor.digest) && (await this.cache.has(descriptor))) {
      this.countCacheHit(descriptor);
      return this.cache.openReader(descriptor);
    }
    const live = this.download({ ...request, urgent: true });
    if ((await live.ready) === "cached" || live.published) {
      return this.cache.openReader(descriptor);
    }
    return live.reader();
  }

  /** The download of a blob: the one running or queued, else a new one. */
  private download(request: BlobRequest): LiveDownload {
    const { descriptor } = request;
    const key = descriptor.digest;
    const known = this.downloads.get(key);
    if (known) {
      if (request.urgent) this.queue.promote(key);
      return known;
    }
    const live = new LiveDownload(descriptor);
    this.downloads.set(key, live);
    this.queue
      .run(key, () => this.runDownload(live, request), request.urgent ?? false)
      .catch((error: unknown) => {
        live.fail(error);
        if (this.downloads.get(key) === live) this.downloads.delete(key);
      });
    return live;
  }

  private async runDownload(live: LiveDownload, request: BlobRequest): Promise<void> {
    const { descriptor } = request;
    if (this.abort.signal.aborted) throw new FerryError("EINTERNAL", "cancelled");
    if (await this.cache.has(descriptor)) {
      this.countCacheHit(descriptor);
      live.fromCache();
      return;
    }
    const claim = await this.cache.claimPartial(descriptor);
    const pipe =
      this.options.direct && !request.throughCache
        ? new DownloadPipe(claim.file.length, descriptor.size, () => claim.file.reset())
        : undefined;
    live.attach(claim, pipe);
    if (pipe) {
      this.directDownloads.add(live);
      const journal = new LandingJournal(this.cache.located, live);
      this.journals.set(descriptor.digest, journal);
      live.onLanded = () => journal.update();
    }
    try {
      const outcome = await downloadBlob(pipe ?? claim.file, descriptor, this.originsFor(request), {
        retry: this.retry,
        minRate: this.minRate,
        signal: this.abort.signal,
        what: request.what,
        ...(this.options.onNote ? { onRetry: this.options.onNote } : {}),
      });
      this.counted.add(descriptor.digest);
      if (outcome.attempts === 0) {
        // An earlier run downloaded all of it (no copy verified it then): no network at all.
        this.stats.blobsFromCache++;
        this.stats.bytesFromCache += descriptor.size;
      } else {
        this.stats.blobsDownloaded++;
        this.stats.bytesDownloaded += outcome.bytesFetched;
        if (outcome.resumedFrom > 0) {
          this.stats.blobsResumed++;
          this.stats.bytesResumed += outcome.resumedFrom;
        }
      }
      live.finish(outcome.origin);
    } catch (error) {
      live.fail(error);
      // A direct download's bytes sit where the engine wrote them: `salvage` or `close`.
      if (!pipe) {
        live.released = true;
        await claim.release(claim.file.length > 0 ? "keep" : "discard");
      }
      throw error;
    }
  }

  /**
   * The copy engine verified a blob (sha256 and size of every byte it read): a download of
   * this session becomes a cache entry. Called by `withVerdicts` (see `verdict.ts`).
   */
  blobVerified(digest: string): void {
    const live = this.downloads.get(digest);
    if (live?.pipe) {
      // Nothing to publish: the bytes are in the engine's output, kept by `keepLocated`.
      if (!live.complete || !live.readToEnd) return;
      live.verified = true;
      this.journals.get(digest)?.update(true);
      return;
    }
    // Only a download the engine read to its end: the verdict is on those bytes.
    if (!live?.claim || live.released || !live.complete || !live.readToEnd) return;
    live.released = true;
    const claim = live.claim;
    const publishing = live.finished
      .then(() => claim.release("published"))
      .then(
        () => {
          live.published = true;
        },
        async (error: unknown) => {
          await claim.release("keep").catch(() => {});
          this.options.onNote?.(
            `${digest} was not kept in the download cache: ${error instanceof Error ? error.message : String(error)}`,
          );
        },
      )
      .finally(() => this.publishing.delete(publishing));
    this.publishing.add(publishing);
  }

  private countCacheHit(descriptor: Descriptor): void {
    this.servedSizes.set(descriptor.digest, descriptor.size);
    if (this.counted.has(descriptor.digest)) return;
    this.counted.add(descriptor.digest);
    this.fromEarlierRuns.add(descriptor.digest);
    this.stats.blobsFromCache++;
    this.stats.bytesFromCache += descriptor.size;
  }

  /**
   * Foreign layers come from their URLs first (the registry usually does not have them), other
   * blobs from the registry first; a blob's `urls` are the fallback.
   */
  private originsFor(request: BlobRequest): BlobOrigin[] {
    const { client, repository, descriptor, what } = request;
    const registryOrigin: BlobOrigin = {
      label: `${client.registry}/${repository}`,
      open: (start, signal) => client.openBlob(repository, descriptor.digest, start, what, signal),
    };
    const urlOrigins = httpUrlsOf(descriptor).map((url) =>
      urlOrigin(url, {
        agentFor: (u) => this.urlAgent(u),
        stallTimeoutMs: this.stallTimeoutMs,
        deadlineMs: this.requestTimeoutMs,
        userAgent: this.userAgent,
        what,
      }),
    );
    return isForeignLayerMediaType(descriptor.mediaType)
      ? [...urlOrigins, registryOrigin]
      : [registryOrigin, ...urlOrigins];
  }

  private urlAgent(url: URL): http.Agent {
    let agent = this.urlAgents.get(url.protocol);
    if (!agent) {
      agent = createAgent(
        url.protocol,
        { verify: true, ca: this.policy.caCertificates },
        { proxy: this.options.proxy, tunnelTimeoutMs: this.stallTimeoutMs },
      );
      this.urlAgents.set(url.protocol, agent);
    }
    return agent;
  }

  /**
   * Turn an integrity failure of a blob into advice: one downloaded in this run is deleted
   * (never kept to resume from) and the message says where the bytes came from; a damaged copy
   * an earlier run left in the cache is removed. Either way the next run downloads it afresh.
   */
  async explainFailure(error: unknown): Promise<unknown> {
    if (!isFerryError(error) || (error.code !== "EINTEGRITY" && error.code !== "ESIZE"))
      return error;
    if (error.details.explained === true) return error;
    const digest = error.details.digest;
    if (typeof digest !== "string") return error;
    const live = this.downloads.get(digest);
    if (live?.claim && live.complete && !live.published) {
      if (!live.released) {
        live.released = true;
        await live.claim.release("discard").catch(() => {});
      }
      return new FerryError(
        error.code,
        `${error.message} (the bytes came from ${live.origin ?? "the registry"})`,
        {
          hint: "the server sent bytes that do not match the digest: nothing was kept; run the same command again to download it afresh, and if it fails again, tell the registry's owner",
          details: { ...error.details, explained: true },
          cause: error,
        },
      );
    }
    if (!this.fromEarlierRuns.has(digest)) return error;
    await this.cache.evict(digest as Digest);
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

  /** Cancel downloads, queued or running; direct ones stop waiting for a reader. */
  private stopDownloads(): void {
    this.abort.abort();
    this.queue.cancelWaiting(new FerryError("EINTERNAL", "cancelled"));
    for (const live of this.directDownloads) live.pipe?.abandon();
  }

  /**
   * The output the engine wrote direct downloads into is complete, with each blob at
   * `locations` (its final name): the cache keeps pointers to the verified ones there, and to
   * blobs it served from pointers into older outputs (the newest output is likelier to stay).
   */
  async keepLocated(locations: ReadonlyMap<string, BlobLocation>): Promise<void> {
    for (const [digest, location] of locations) {
      const live = this.downloads.get(digest);
      const direct = live?.pipe !== undefined && live.verified && !live.released;
      if (!direct && !this.fromEarlierRuns.has(digest)) continue;
      if (!direct && (await this.cache.hasCopy(digest as Digest))) continue;
      const size = live?.descriptor.size ?? this.servedSizes.get(digest);
      if (size === undefined) continue;
      await this.cache.located.keep(digest as Digest, size, location).catch((error: unknown) => {
        this.options.onNote?.(
          `${digest} was not kept in the download cache: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
      if (live && direct) {
        live.released = true;
        await this.journals.get(digest)?.end();
        await live.claim?.release("discard").catch(() => {});
      }
    }
  }

  /**
   * The output direct downloads were written into is about to be removed (the copy failed):
   * copy what landed there into the cache first — verified blobs into `blobs/`, cut ones into
   * `partial/` to resume from — so the next run downloads only the rest. A blob whose bytes all
   * landed without a verdict (the engine rejected them) is dropped.
   */
  async salvage(): Promise<void> {
    this.stopDownloads();
    await Promise.allSettled([...this.directDownloads].map((live) => live.finished));
    for (const live of this.directDownloads) {
      if (!live.claim || live.released) continue;
      live.released = true;
      await this.salvageOne(live).catch((error: unknown) => {
        this.options.onNote?.(
          `${live.descriptor.digest}: what was downloaded could not be kept in the cache: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
      await this.journals.get(live.descriptor.digest)?.end();
    }
  }

  private async salvageOne(live: LiveDownload): Promise<void> {
    const claim = live.claim;
    if (!claim) return;
    const { digest, size } = live.descriptor;
    // All of it landed and no verdict came: the engine rejected the bytes (a write that failed
    // stops short of the end; the engine may have read to the end by then, so that says nothing).
    const rejected = live.pipe?.discarded === true || (!live.verified && live.landed >= size);
    const location = live.location;
    if (rejected || !location || live.landed <= claim.file.length) {
      await claim.release(rejected ? "discard" : claim.file.length > 0 ? "keep" : "discard");
      return;
    }
    // The claim goes first (its lock); its partial holds at most a prefix of what landed.
    await claim.release("keep");
    await this.cache.keepRegion(
      digest,
      location,
      live.landed,
      live.verified && live.landed === size,
    );
  }

  /**
   * Stop downloads (cut partials stay, for the next run to resume) and close connections.
   * Finished downloads no verdict published are kept to resume from, except those the engine
   * read to the end without a verdict (it may have rejected them): those are deleted.
   */
  async close(): Promise<void> {
    this.stopDownloads();
    await Promise.allSettled([...this.publishing]);
    await Promise.allSettled([...this.downloads.values()].map((live) => live.finished));
    for (const live of new Set([...this.downloads.values(), ...this.directDownloads])) {
      if (!live.claim || live.released) continue;
      live.released = true;
      const drop = live.readToEnd || live.pipe?.discarded === true;
      await live.claim.release(drop ? "discard" : "keep").catch(() => {});
    }
    for (const journal of this.journals.values()) await journal.end();
    for (const client of this.clients.values()) (await client.catch(() => undefined))?.close();
    for (const agent of this.urlAgents.values()) agent.destroy();
  }
}
