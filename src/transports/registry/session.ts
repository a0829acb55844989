import type http from "node:http";
import { BlobCache } from "../../cache/blob-cache.js";
import type { BlobEvent } from "../../types/copy-events.js";
import { isForeignLayerMediaType } from "../../types/media-types.js";
import type { ProxyConfig } from "../../types/proxy.js";
import type { BlobLocation, BlobReader } from "../../types/transport.js";
import type { BlobOrigin } from "./blob-download.js";
import { BlobBook } from "./blob-states.js";
import { RegistryClient } from "./client.js";
import type { CredentialLookup } from "./credentials.js";
import { DownloadOutcomes } from "./download-outcomes.js";
import { BlobDownloads, type BlobRequest, type TransferStats } from "./downloads.js";
import {
  allowsPlainHttp,
  defaultCertsDirs,
  type EndpointPolicy,
  tlsSettingsFor,
} from "./endpoint.js";
import { createAgent } from "./http.js";
import { DEFAULT_MIN_RATE_BYTES_PER_SECOND, type MinRate } from "./min-rate.js";
import { PendingWork } from "./pending-work.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.js";
import { httpUrlsOf, urlOrigin } from "./url-origin.js";

export type { BlobRequest, TransferStats } from "./downloads.js";

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
  /** Told of each retry of a registry request as it happens (default: `onNote`). */
  onRetryNote?: (text: string) => void;
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
    ...(options.onRetryNote ? { onRetry: options.onRetryNote } : {}),
  });
}

/**
 * Everything a command shares while it talks to registries: one client per registry (its
 * connections, TLS settings and tokens), the download cache, and one bounded download queue,
 * so `--jobs` limits downloads across all images and registries together.
 *
 * Blobs are downloaded into partial files of the cache and handed to the copy engine while
 * they grow (`blobReader`), or, `direct`, straight to the engine; the engine hashes every
 * byte it reads, once. The session hears the engine's events about its blobs through its
 * sources (`onBlobEvent`): only after the engine verified a download is it published into the
 * cache (or, direct, pointed at in the finished output). A blob already in the cache is read
 * from there (and hashed by the engine again). Each blob's course is one explicit state
 * (`BlobState`): `BlobDownloads` moves it while downloading, `DownloadOutcomes` afterwards.
 */
export class RegistrySession {
  readonly stats: TransferStats;
  private readonly clients = new Map<string, Promise<RegistryClient>>();
  private readonly urlAgents = new Map<string, http.Agent>();
  private readonly downloads: BlobDownloads;
  private readonly outcomes: DownloadOutcomes;
  private readonly policy: EndpointPolicy;
  private readonly stallTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly userAgent: string;

  private constructor(
    readonly cache: BlobCache,
    private readonly options: RegistrySessionOptions,
  ) {
    this.policy = endpointPolicy(options);
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.userAgent = options.userAgent ?? "ferry";
    const book = new BlobBook();
    const work = new PendingWork();
    this.downloads = new BlobDownloads(cache, book, work, {
      jobs: options.jobs ?? 4,
      direct: options.direct ?? false,
      retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
      minRate: minRateOf(options),
      originsFor: (request) => this.originsFor(request),
      ...(options.onNote ? { onNote: options.onNote } : {}),
    });
    this.outcomes = new DownloadOutcomes(cache, book, work, options.onNote);
    this.stats = this.downloads.stats;
    options.signal?.addEventListener("abort", () => this.downloads.stop(), { once: true });
  }

  static async open(options: RegistrySessionOptions): Promise<RegistrySession> {
    return new RegistrySession(await BlobCache.open(options.cacheDir), options);
  }

  /** The client for a registry (`docker.io`, `host:5000`), made once. */
  client(registry: string): Promise<RegistryClient> {
    let client = this.clients.get(registry);
    if (!client) {
      const onRetryNote = this.options.onRetryNote ?? this.options.onNote;
      client = openClient(registry, { ...this.options, ...(onRetryNote ? { onRetryNote } : {}) });
      this.clients.set(registry, client);
    }
    return client;
  }

  /** Start downloading a blob the engine will read later (see `BlobDownloads.prefetch`). */
  prefetch(request: BlobRequest): void {
    this.downloads.prefetch(request);
  }

  /**
   * Positional reads of a blob for the copy engine: the cache file when the blob is there,
   * else its download (started now, or found running), read as it grows.
   */
  blobReader(request: BlobRequest): Promise<BlobReader> {
    return this.downloads.reader(request);
  }

  /** The copy engine's events about the blobs this session serves (see `DownloadOutcomes`). */
  readonly onBlobEvent = (event: BlobEvent): void => this.outcomes.hear(event);

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
   * Turn an integrity failure of a blob into advice naming where the bytes came from (see
   * `DownloadOutcomes.explain`); other errors are returned as they are.
   */
  explainFailure(error: unknown): Promise<unknown> {
    return this.outcomes.explain(error);
  }

  /**
   * The output the engine wrote direct downloads into is complete, with each blob at
   * `locations` (its final name): the cache keeps pointers there (see
   * `DownloadOutcomes.keepLocated`).
   */
  keepLocated(locations: ReadonlyMap<string, BlobLocation>): Promise<void> {
    return this.outcomes.keepLocated(locations);
  }

  /**
   * The output direct downloads were written into is about to be removed (the copy failed):
   * stop downloading, and copy what landed there into the cache first, so the next run
   * downloads only the rest.
   */
  async salvage(): Promise<void> {
    this.downloads.stop();
    await this.outcomes.salvage();
  }

  /**
   * Stop downloads (cut partials stay, for the next run to resume), let go of every download
   * still held, and close connections.
   */
  async close(): Promise<void> {
    this.downloads.stop();
    await this.outcomes.releaseAll();
    for (const client of this.clients.values()) (await client.catch(() => undefined))?.close();
    for (const agent of this.urlAgents.values()) agent.destroy();
  }
}
