import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import { RegistryError } from "./errors.js";
import { type RawBody, RawPool } from "./raw-http.js";
import { displayUrl } from "./redact.js";

/** TLS material for one registry host. */
export interface TlsSettings {
  /** Extra CA certificates (PEM), trusted in addition to the system's. */
  ca?: string[];
  /** A client certificate and key (PEM) for registries that ask for one. */
  cert?: string;
  key?: string;
  /** False only for hosts named with --insecure-registry. */
  verify: boolean;
}

export interface HttpRequestInit {
  method?: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  headers?: Record<string, string>;
  /**
   * A request body: bytes, or a stream (uploads). A stream's own error (e.g. the copy engine's
   * verdict on the bytes) rejects the request with that error, not a network error.
   */
  body?: Buffer | string | Readable;
  /** The connection pool to use (see `createAgent`); none means Node's default one. */
  agent?: http.Agent;
  /**
   * A bodyless GET whose response body may be large (a blob): read it over the agent's raw
   * connections (`raw-http.ts`), into the caller's buffers with `body.fill`.
   */
  rawBody?: boolean;
  /** Fail when no byte moves for this long (connecting, waiting, or mid-body). */
  stallTimeoutMs: number;
  signal?: AbortSignal;
}

/** A response body: async iterable chunks, or (raw connections) `fill` into the caller's buffer. */
export interface ResponseBody extends AsyncIterable<Buffer> {
  destroy(error?: Error): void;
  readonly statusMessage?: string | undefined;
  /** Raw connections only: see `RawBody.fill`. */
  fill?: RawBody["fill"];
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body; the caller consumes or destroys it. Stalls fail it with a RegistryError. */
  body: ResponseBody;
  url: URL;
}

const TRUST_ERRORS = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Errors that say "this port does not speak TLS" (an http:// registry answered). */
const PROTOCOL_MISMATCH = new Set([
  "EPROTO",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
]);

/** The raw connection pools of the agents made by `createAgent`. */
const rawPools = new WeakMap<http.Agent, RawPool>();

/**
 * A keep-alive connection pool for one scheme and TLS configuration, with a raw pool beside it
 * for blob bodies (`rawBody`); destroying the agent closes both.
 */
export function createAgent(protocol: string, tls: TlsSettings | undefined): http.Agent {
  const raw = new RawPool(
    protocol === "https:"
      ? { tls: { ca: tls?.ca, cert: tls?.cert, key: tls?.key, verify: tls?.verify ?? true } }
      : {},
  );
  const agent =
    protocol === "http:"
      ? new http.Agent({ keepAlive: true, maxSockets: 32 })
      : new https.Agent({
          keepAlive: true,
          maxSockets: 32,
          ...(tls?.ca?.length ? { ca: [...rootCertificates, ...tls.ca] } : {}),
          ...(tls?.cert ? { cert: tls.cert } : {}),
          ...(tls?.key ? { key: tls.key } : {}),
          rejectUnauthorized: tls?.verify ?? true,
        });
  const destroy = agent.destroy.bind(agent);
  agent.destroy = () => {
    raw.destroy();
    destroy();
  };
  rawPools.set(agent, raw);
  return agent;
}

/** Whether a failed https attempt means the server speaks plain http on that port. */
export function isProtocolMismatch(error: unknown): boolean {
  const code = (error as { details?: { systemCode?: string } }).details?.systemCode;
  return code !== undefined && PROTOCOL_MISMATCH.has(code);
}

/** Translate a socket or TLS error into a RegistryError naming the host. */
export function networkError(error: unknown, url: URL): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  const detail = error instanceof Error ? error.message : String(error);
  const where = displayUrl(url);
  if (TRUST_ERRORS.has(code)) {
    return new RegistryError("ETRUST", `${url.host}: TLS certificate not trusted (${code})`, {
      hint: `give its CA with --ca-cert FILE or put it in /etc/docker/certs.d/${url.host}/ca.crt; --insecure-registry ${url.host} skips the check`,
      details: { host: url.host, systemCode: code },
      cause: error,
    });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new RegistryError("ENETWORK", `${url.host}: host name not found (${code})`, {
      hint: "check the registry name and this machine's DNS",
      transient: code === "EAI_AGAIN",
      details: { host: url.host, systemCode: code },
      cause: error,
    });
  }
  if (code === "ABORT_ERR") {
    return new RegistryError("ENETWORK", `${where}: cancelled`, { cause: error });
  }
  return new RegistryError("ENETWORK", `${where}: ${describeCode(code, detail)}`, {
    transient: !PROTOCOL_MISMATCH.has(code),
    details: { host: url.host, ...(code ? { systemCode: code } : {}) },
    cause: error,
  });
}

function describeCode(code: string, detail: string): string {
  switch (code) {
    case "ECONNRESET":
      return "connection reset";
    case "ECONNREFUSED":
      return "connection refused";
    case "ETIMEDOUT":
      return "connection timed out";
    case "EPIPE":
      return "connection closed while sending";
    case "ESTALL":
      return detail;
    default:
      return code ? `${detail} (${code})` : detail;
  }
}

function stallError(url: URL, ms: number): RegistryError {
  return new RegistryError(
    "ENETWORK",
    `${displayUrl(url)}: stalled (no data for ${Math.round(ms / 1000)} s)`,
    { transient: true, details: { host: url.host } },
  );
}

/**
 * One HTTP request over node:http/https (keep-alive pools, custom CAs, streamed bodies).
 * Resolves when the response head arrives; redirects are not followed here.
 */
export function sendHttp(url: URL, init: HttpRequestInit): Promise<HttpResponse> {
  const method = init.method ?? "GET";
  const raw =
    init.rawBody && init.agent && process.env.FERRY_BLOB_HTTP !== "node"
      ? rawPools.get(init.agent)
      : undefined;
  if (raw && (method === "GET" || method === "HEAD") && init.body === undefined) {
    return raw
      .send(url, {
        method,
        headers: init.headers ?? {},
        stallTimeoutMs: init.stallTimeoutMs,
        signal: init.signal,
      })
      .then(
        (response) => ({
          status: response.status,
          headers: response.headers,
          body: response.body,
          url,
        }),
        (error: unknown) => {
          throw networkError(error, url);
        },
      );
  }
  const transport = url.protocol === "https:" ? https : http;
  return new Promise<HttpResponse>((resolve, reject) => {
    let response: http.IncomingMessage | undefined;
    const request = transport.request(
      url,
      {
        method,
        headers: init.headers ?? {},
        ...(init.agent ? { agent: init.agent } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        response = res;
        res.on("error", () => {});
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      },
    );
    request.setTimeout(init.stallTimeoutMs, () => {
      const error = stallError(url, init.stallTimeoutMs);
      if (response) response.destroy(error);
      request.destroy(error);
    });
    let bodyError: unknown;
    request.on("error", (error) => {
      const translated = bodyError ?? networkError(error, url);
      if (response) response.destroy(translated as Error);
      else reject(translated);
    });
    const body = init.body;
    if (body === undefined || typeof body === "string" || Buffer.isBuffer(body)) {
      request.end(body);
    } else {
      body.on("error", (error) => {
        bodyError = error;
        request.destroy(error);
      });
      body.pipe(request);
    }
  });
}

/** Read a (small) body into memory, refusing more than `limit` bytes. */
export async function readBody(response: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += (chunk as Buffer).length;
      if (total > limit) {
        response.body.destroy();
        throw new RegistryError(
          "EREGISTRY",
          `${displayUrl(response.url)}: response larger than ${limit} bytes`,
        );
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    throw networkError(error, response.url);
  }
  return Buffer.concat(chunks);
}

/** Throw the rest of a body away so the connection can be reused. */
export async function discardBody(response: HttpResponse): Promise<void> {
  try {
    await readBody(response, 1024 * 1024);
  } catch {
    response.body.destroy();
  }
}

/** A header's single value (the first one when repeated). */
export function headerValue(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
