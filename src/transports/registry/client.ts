import type http from "node:http";
import type { Readable } from "node:stream";
import { MediaType } from "../../types/media-types.js";
import type { ProxyConfig } from "../../types/proxy.js";
import { Authorizer, CATALOG_SCOPE, repositoryScope } from "./auth.js";
import type { CredentialLookup } from "./credentials.js";
import { apiHost, isInsecure } from "./endpoint.js";
import { readErrorBody } from "./error-body.js";
import { RegistryError } from "./errors.js";
import {
  createAgent,
  discardBody,
  type HttpResponse,
  headerValue,
  isProtocolMismatch,
  readBody,
  sendHttp,
  type TlsSettings,
} from "./http.js";
import { resolveLocation } from "./location.js";
import { readPages } from "./paged-list.js";
import { displayUrl } from "./redact.js";
import { type RetryNotice, type RetryPolicy, withRetries } from "./retry.js";
import { credentialsRejected, statusError } from "./status-error.js";

export interface RegistryClientOptions {
  /** The registry name as references spell it: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  credentials: CredentialLookup;
  tls: TlsSettings;
  /** Loopback and --insecure-registry hosts may answer on plain http. */
  plainHttpAllowed: boolean;
  /** Hosts named with --insecure-registry (`host` or `host:port`). */
  insecureRegistries?: string[];
  /** --ca-cert PEMs: trusted on other hosts too (token services, blob storage). */
  caCertificates?: string[];
  /** The proxies requests go through (registry, token services, blob storage). */
  proxy?: ProxyConfig;
  retry: RetryPolicy;
  stallTimeoutMs: number;
  /**
   * The longest a request may wait for its answer (ms): the whole answer for small ones
   * (manifests, tokens, lists), the response head for blobs. Undefined: no deadline.
   */
  requestTimeoutMs?: number;
  userAgent: string;
  /** Told of each retry after a transient failure, as it happens (a note for stderr). */
  onRetry?: (text: string) => void;
}

/** One request to the registry API. */
export interface RegistryRequest {
  method?: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** An API path (`/v2/...`) or an absolute URL (pagination links, upload locations). */
  path: string;
  headers?: Record<string, string>;
  /**
   * Bytes to send (re-sent after an authentication challenge), or a stream (sent once: a
   * challenge or a redirect then fails with a transient error the uploader recovers from).
   */
  body?: Buffer | Readable;
  scopes: string[];
  /** What is being fetched, for messages: `manifest of host/repo:tag`. */
  what: string;
  /** Statuses to hand back instead of failing on (e.g. 416 for a Range request). */
  acceptStatus?: number[];
  /** A blob GET: the body is read over raw connections (see `HttpRequestInit.rawBody`). */
  rawBody?: boolean;
  signal?: AbortSignal;
}

/** The media types ferry accepts for manifests (schema 1 is left out on purpose). */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(", ");

/** Manifests are small: distribution caps them at 4 MiB (every manifest read here is capped so). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** A fetched manifest: the exact bytes and what the registry said about them. */
export interface FetchedManifest {
  bytes: Buffer;
  /** Content-Type without parameters, when the registry sent one. */
  contentType?: string;
  /** The registry's Docker-Content-Digest header, when sent. */
  digestHeader?: string;
}

/**
 * A client for one registry's OCI distribution API: ping, manifests, blobs, tag lists and
 * the catalog. It answers authentication challenges, follows redirects (credentials never
 * leave the registry's host), and retries transient failures with backoff.
 */
export class RegistryClient {
  readonly registry: string;
  readonly host: string;
  readonly auth: Authorizer;
  private base: Promise<URL> | undefined;
  private readonly agents = new Map<string, http.Agent>();
  /** Requests sent (tests and diagnostics). */
  requestsSent = 0;

  constructor(private readonly options: RegistryClientOptions) {
    this.registry = options.registry;
    this.host = apiHost(options.registry);
    this.auth = new Authorizer({
      registry: options.registry,
      credentials: options.credentials,
      retry: options.retry,
      stallTimeoutMs: options.stallTimeoutMs,
      ...(options.requestTimeoutMs === undefined ? {} : { deadlineMs: options.requestTimeoutMs }),
      userAgent: options.userAgent,
      registryHost: this.host,
      isInsecure: (host) =>
        isInsecure(host, { insecureRegistries: options.insecureRegistries ?? [] }),
      agentFor: (url) => this.agentFor(url),
    });
  }

  get retryPolicy(): RetryPolicy {
    return this.options.retry;
  }

  /**
   * The connection pool for a URL: the registry's own TLS settings on its host; on other hosts
   * (token services, blob storage) verified TLS with the system CAs and --ca-cert.
   */
  agentFor(url: URL): http.Agent {
    const own = url.host === this.host;
    const key = `${url.protocol}//${own ? url.host : "*"}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const ca = this.options.caCertificates ?? [];
      agent = createAgent(
        url.protocol,
        own ? this.options.tls : { verify: true, ...(ca.length ? { ca } : {}) },
        { proxy: this.options.proxy, tunnelTimeoutMs: this.options.stallTimeoutMs },
      );
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** The request deadline: the whole answer, or only its head for a blob body. */
  private deadline(blob: boolean): { deadlineMs?: number; deadlineCoversBody?: boolean } {
    const ms = this.options.requestTimeoutMs;
    return ms === undefined ? {} : { deadlineMs: ms, deadlineCoversBody: !blob };
  }

  /** Close idle connections. */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /** The API base (`https://host/v2/`), found by pinging once. */
  baseUrl(): Promise<URL> {
    this.base ??= this.ping();
    this.base.catch(() => {
      this.base = undefined;
    });
    return this.base;
  }

  /**
   * `GET /v2/`: learns the scheme (https, or http for loopback and --insecure-registry hosts
   * whose port does not speak TLS) and the authentication challenge.
   */
  private async ping(): Promise<URL> {
    const schemes = this.options.plainHttpAllowed ? ["https:", "http:"] : ["https:"];
    let lastError: unknown;
    for (const scheme of schemes) {
      const url = new URL(`${scheme}//${this.host}/v2/`);
      try {
        return await withRetries(
          this.options.retry,
          async () => {
            const response = await sendHttp(url, {
              headers: { "User-Agent": this.options.userAgent },
              agent: this.agentFor(url),
              stallTimeoutMs: this.options.stallTimeoutMs,
              ...this.deadline(false),
            });
            this.requestsSent++;
            await discardBody(response);
            if (response.status === 200) return url;
            if (response.status === 401) {
              this.auth.learn(headerValue(response.headers, "www-authenticate"));
              return url;
            }
            if (response.status === 404) {
              throw new RegistryError(
                "EREGISTRY",
                `${this.registry} does not offer the registry API (GET ${displayUrl(url)} answered 404)`,
                { hint: "check the registry name", status: 404 },
              );
            }
            throw statusError(this.registry, response, `the registry API of ${this.registry}`);
          },
          this.retryNotes(),
        );
      } catch (error) {
        lastError = error;
        if (scheme === "https:" && schemes.length > 1 && isProtocolMismatch(error)) continue;
        throw error;
      }
    }
    throw lastError;
  }

  /**
   * Send one API request with authentication and redirects; 2xx (or an accepted status)
   * resolves with the response (body unread), anything else throws a RegistryError.
   * No retries here: see `fetchSmall` and the blob downloader.
   */
  async send(request: RegistryRequest): Promise<HttpResponse> {
    const base = await this.baseUrl();
    let url = new URL(request.path, base);
    let scopes = request.scopes;
    let authRounds = 0;
    let redirects = 0;
    while (true) {
      // Credentials go to the registry's own origin only: never to a redirect's other host,
      // nor over http after a redirect from https.
      const ownHost = url.host === base.host && url.protocol === base.protocol;
      const headers: Record<string, string> = {
        "User-Agent": this.options.userAgent,
        ...request.headers,
      };
      if (ownHost) {
        const authorization = await this.auth.authorization(scopes);
        if (authorization) headers.Authorization = authorization;
      }
      const response = await sendHttp(url, {
        method: request.method ?? "GET",
        headers,
        agent: this.agentFor(url),
        stallTimeoutMs: this.options.stallTimeoutMs,
        ...this.deadline(request.rawBody === true),
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.rawBody ? { rawBody: true } : {}),
      });
      this.requestsSent++;
      const location = headerValue(response.headers, "location");
      const streamed = request.body !== undefined && !Buffer.isBuffer(request.body);
      if (streamed && (response.status === 401 || REDIRECTS.has(response.status))) {
        // A stream cannot be sent again: learn the challenge for the next request and let
        // the uploader find out where the upload stands.
        await discardBody(response);
        if (response.status === 401 && ownHost) {
          this.auth.learn(headerValue(response.headers, "www-authenticate"));
          this.auth.invalidate(scopes);
        }
        throw new RegistryError(
          "EREGISTRY",
          `${request.what}: ${this.registry} answered HTTP ${response.status} to a streamed upload`,
          { transient: true, status: response.status },
        );
      }
      if (REDIRECTS.has(response.status) && location && redirects < MAX_REDIRECTS) {
        redirects++;
        await discardBody(response);
        url = resolveLocation(location, url, request.what);
        continue;
      }
      if (response.status === 401 && ownHost && authRounds === 0) {
        authRounds++;
        await discardBody(response);
        const extra = this.auth.learn(headerValue(response.headers, "www-authenticate"));
        scopes = [...new Set([...scopes, ...extra])];
        this.auth.invalidate(scopes);
        continue;
      }
      if (response.status >= 200 && response.status < 300) return response;
      if (request.acceptStatus?.includes(response.status)) return response;
      if (response.status === 401 && headers.Authorization?.startsWith("Basic ")) {
        // The registry saw a user name and password and said no: that, not "log in".
        await discardBody(response);
        throw credentialsRejected(this.registry, await this.auth.credential(), request.what);
      }
      throw statusError(this.registry, response, request.what, await readErrorBody(response));
    }
  }

  /** Send a request and read its (small) body, retrying transient failures. */
  async fetchSmall(
    request: RegistryRequest,
    limit: number,
  ): Promise<{ response: HttpResponse; bytes: Buffer }> {
    return withRetries(
      this.options.retry,
      async () => {
        const response = await this.send(request);
        return { response, bytes: await readBody(response, limit) };
      },
      { ...this.retryNotes(), ...(request.signal ? { signal: request.signal } : {}) },
    );
  }

  /** `withRetries` options that tell `onRetry` of each retry. */
  private retryNotes(): { onRetry?: (notice: RetryNotice) => void } {
    const onRetry = this.options.onRetry;
    if (!onRetry) return {};
    const retries = this.options.retry.retries;
    return {
      onRetry: ({ attempt, delayMs, error }) =>
        onRetry(
          `${error.message}; retry ${attempt} of ${retries} in ${(delayMs / 1000).toFixed(1)} s`,
        ),
    };
  }

  /** A manifest by tag or digest, with the Accept header for OCI and Docker v2 types. */
  async getManifest(repository: string, reference: string, what: string): Promise<FetchedManifest> {
    const { response, bytes } = await this.fetchSmall(
      {
        path: `/v2/${repository}/manifests/${reference}`,
        headers: { Accept: MANIFEST_ACCEPT },
        scopes: [repositoryScope(repository)],
        what,
      },
      MAX_MANIFEST_BYTES,
    );
    const manifest: FetchedManifest = { bytes };
    const contentType = headerValue(response.headers, "content-type")?.split(";")[0]?.trim();
    if (contentType) manifest.contentType = contentType;
    const digestHeader = headerValue(response.headers, "docker-content-digest");
    if (digestHeader) manifest.digestHeader = digestHeader.trim();
    return manifest;
  }

  /** Start a blob download at byte `start` (a Range request when > 0). Not retried here. */
  openBlob(
    repository: string,
    digest: string,
    start: number,
    what: string,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    return this.send({
      path: `/v2/${repository}/blobs/${digest}`,
      headers: start > 0 ? { Range: `bytes=${start}-` } : {},
      scopes: [repositoryScope(repository)],
      what,
      acceptStatus: [416],
      rawBody: true,
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * Check credentials the way `docker login` does: `GET /v2/` with them (a bearer registry
   * first hands out a token for them, with no scope). Resolves with the scheme in use.
   */
  async checkLogin(): Promise<string> {
    const response = await this.send({
      path: "/v2/",
      scopes: [],
      what: `login to ${this.registry}`,
    });
    await discardBody(response);
    return this.auth.scheme ?? "none";
  }

  /** Every tag of a repository, following `Link` pagination. */
  async listTags(repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = [];
    await readPages(
      this,
      `/v2/${repository}/tags/list?n=${pageSize}`,
      [repositoryScope(repository)],
      `tags of ${this.registry}/${repository}`,
      (body) => {
        const page = body as { tags?: unknown };
        if (Array.isArray(page.tags))
          tags.push(...page.tags.filter((t): t is string => typeof t === "string"));
        return true;
      },
    );
    return tags;
  }

  /**
   * Repository names from the catalog, following pagination; stops early when `accept`
   * (called per page) returns false.
   */
  async catalog(pageSize: number, accept: (repositories: string[]) => boolean): Promise<void> {
    await readPages(
      this,
      `/v2/_catalog?n=${pageSize}`,
      [CATALOG_SCOPE],
      `the catalog of ${this.registry}`,
      (body) => {
        const page = body as { repositories?: unknown };
        const names = Array.isArray(page.repositories)
          ? page.repositories.filter((r): r is string => typeof r === "string")
          : [];
        return accept(names);
      },
    );
  }
}
