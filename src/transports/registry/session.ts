import type http from "node:http";
import { BlobCache } from "../../cache/blob-cache.js";
import { FerryError, isFerryError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { isForeignLayerMediaType } from "../../types/media-types.js";
import { type BlobOrigin, downloadToCache } from "./blob-download.js";
import { RegistryClient } from "./client.js";
import type { CredentialLookup } from "./credentials.js";
import {
  allowsPlainHttp,
  DEFAULT_CERTS_DIR,
  type EndpointPolicy,
  tlsSettingsFor,
} from "./endpoint.js";
import { createAgent } from "./http.js";
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
  insecureRegistries?: string[];
  /** Extra CA certificates (PEM text). */
  caCertificates?: string[];
  /** Docker's per-registry certificate folders (default /etc/docker/certs.d). */
  certsDir?: string;
  userAgent?: string;
  /** Retries, resumes and other things a user may want to know about. */
  onNote?: (text: string) => void;
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

/** One blob the session should have in its cache. */
export interface BlobRequest {
  client: RegistryClient;
  repository: string;
  descriptor: Descriptor;
  /** `blob sha256:... of host/repo:tag`. */
  what: string;
  /** The copy engine waits for it: jump the queue. */
  urgent?: boolean;
}

/** What a lone client needs (login, logout): a session's options without the cache. */
export type ClientOptions = Omit<RegistrySessionOptions, "cacheDir" | "jobs" | "onNote">;

/** A client for one registry with the session's endpoint rules (TLS, http, retries). */
export async function openClient(
  registry: string,
  options: ClientOptions,
): Promise<RegistryClient> {
  const policy: EndpointPolicy = {
    insecureRegistries: options.insecureRegistries ?? [],
    caCertificates: options.caCertificates ?? [],
    certsDir: options.certsDir ?? DEFAULT_CERTS_DIR,
  };
  return new RegistryClient({
    registry,
    credentials: options.credentials,
    tls: await tlsSettingsFor(registry, policy),
    plainHttpAllowed: allowsPlainHttp(registry, policy),
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    userAgent: options.userAgent ?? "ferry",
  });
}

/**
 * Everything a command shares while it talks to registries: one client per registry (its
 * connections, TLS settings and tokens), the download cache, and one bounded download queue,
 * so `--jobs` limits downloads across all images and registries together.
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
  private readonly urlAgents = new Map<string, http.Agent>();
  private readonly retry: RetryPolicy;
  private readonly policy: EndpointPolicy;
  private readonly stallTimeoutMs: number;
  private readonly userAgent: string;

  private constructor(
    readonly cache: BlobCache,
    private readonly options: RegistrySessionOptions,
  ) {
    this.queue = new TaskQueue(Math.max(1, options.jobs ?? 4));
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.policy = {
      insecureRegistries: options.insecureRegistries ?? [],
      caCertificates: options.caCertificates ?? [],
      certsDir: options.certsDir ?? DEFAULT_CERTS_DIR,
    };
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
    this.userAgent = options.userAgent ?? "ferry";
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

  /** Make sure a blob is in the cache, verified: from the cache, else downloaded (queued). */
  async ensureBlob(request: BlobRequest): Promise<void> {
    const { descriptor } = request;
    if (await this.cache.has(descriptor)) {
      this.countCacheHit(descriptor);
      return;
    }
    await this.queue.run(
      descriptor.digest,
      async () => {
        if (this.abort.signal.aborted) throw new FerryError("EINTERNAL", "cancelled");
        if (await this.cache.has(descriptor)) {
          this.countCacheHit(descriptor);
          return;
        }
        const outcome = await downloadToCache(this.cache, descriptor, this.originsFor(request), {
          retry: this.retry,
          signal: this.abort.signal,
          what: request.what,
          ...(this.options.onNote ? { onRetry: this.options.onNote } : {}),
        });
        this.counted.add(descriptor.digest);
        this.stats.blobsDownloaded++;
        this.stats.bytesDownloaded += outcome.bytesFetched;
        if (outcome.resumedFrom > 0) {
          this.stats.blobsResumed++;
          this.stats.bytesResumed += outcome.resumedFrom;
        }
      },
      request.urgent ?? false,
    );
  }

  private countCacheHit(descriptor: Descriptor): void {
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
      agent = createAgent(url.protocol, { verify: true, ca: this.policy.caCertificates });
      this.urlAgents.set(url.protocol, agent);
    }
    return agent;
  }

  /**
   * Turn an integrity failure of a blob this session served from an earlier run's cache into
   * advice, after removing the damaged copy (the next run downloads it again).
   */
  async explainFailure(error: unknown): Promise<unknown> {
    if (!isFerryError(error) || (error.code !== "EINTEGRITY" && error.code !== "ESIZE"))
      return error;
    const digest = error.details.digest;
    if (typeof digest !== "string" || !this.fromEarlierRuns.has(digest)) return error;
    await this.cache.evict(digest as Descriptor["digest"]);
    return new FerryError(
      error.code,
      `${error.message} (the copy in the download cache ${this.cache.dir} was damaged)`,
      {
        hint: "the damaged copy was removed from the cache: run the same command again to download it afresh",
        details: error.details,
        cause: error,
      },
    );
  }

  /** Stop downloads (partials stay, for the next run to resume) and close connections. */
  async close(): Promise<void> {
    this.abort.abort();
    this.queue.cancelWaiting(new FerryError("EINTERNAL", "cancelled"));
    for (const client of this.clients.values()) (await client.catch(() => undefined))?.close();
    for (const agent of this.urlAgents.values()) agent.destroy();
  }
}
