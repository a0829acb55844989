import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import type { ProxyConfig } from "../../types/proxy.js";
import { trustedCas } from "./ca-bundle.js";
import { RegistryError } from "./errors.js";
import { deadlineError, networkError, stallError } from "./network-errors.js";
import { TunnellingAgent } from "./proxy-agent.js";
import { type ProxyRoute, proxyRefusal, routeFor } from "./proxy-tunnel.js";
import { type RawBody, RawPool } from "./raw-http.js";
import { displayUrl } from "./redact.js";

export { isProtocolMismatch, networkError } from "./network-errors.js";

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
  /**
   * Fail when the answer has not arrived this long after the request was sent (its body, if
   * any, fully sent): the response head, and with `deadlineCoversBody` its whole body too. The
   * stall timeout alone lets a server that drips a byte now and then hold a request for ever.
   */
  deadlineMs?: number;
  /** The deadline also covers reading the body (small answers: manifests, tokens, lists). */
  deadlineCoversBody?: boolean;
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
  /** The proxy the request went through, if any (for messages). */
  route?: ProxyRoute;
  /**
   * When the request's deadline covered only the head: the deadline `readBody` holds a body to
   * (an error document or a redirect's body read whole).
   */
  readDeadlineMs?: number;
}

/** The raw connection pools of the agents made by `createAgent`. */
const rawPools = new WeakMap<http.Agent, RawPool>();
/** The proxies of the agents made by `createAgent`. */
const agentProxies = new WeakMap<http.Agent, ProxyConfig>();

/** How an agent reaches hosts: through which proxies, and how long a proxy may take to answer. */
export interface NetworkSettings {
  /** Proxies (see `proxyConfigFrom`); undefined: every host directly. */
  proxy?: ProxyConfig | undefined;
  /** How long a proxy may stay silent while a tunnel is set up (default 60 s). */
  tunnelTimeoutMs?: number | undefined;
}

const DEFAULT_TUNNEL_TIMEOUT_MS = 60_000;

/**
 * A keep-alive connection pool for one scheme and TLS configuration, with a raw pool beside it
 * for blob bodies (`rawBody`); destroying the agent closes both. Extra CAs are trusted in
 * addition to Node's default ones (`trustedCas`). With a proxy, https hosts are reached through
 * CONNECT tunnels and http hosts with absolute-form requests to the proxy (see `sendHttp`).
 */
export function createAgent(
  protocol: string,
  tls: TlsSettings | undefined,
  network: NetworkSettings = {},
): http.Agent {
  const ca = trustedCas(tls?.ca);
  const proxy = network.proxy?.https || network.proxy?.http ? network.proxy : undefined;
  const tunnelTimeoutMs = network.tunnelTimeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS;
  const raw = new RawPool({
    ...(protocol === "https:"
      ? { tls: { ca, cert: tls?.cert, key: tls?.key, verify: tls?.verify ?? true } }
      : {}),
    ...(proxy ? { proxy, tunnelTimeoutMs } : {}),
  });
  const httpsOptions: https.AgentOptions = {
    keepAlive: true,
    maxSockets: 32,
    ...(ca ? { ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    rejectUnauthorized: tls?.verify ?? true,
  };
  const agent =
    protocol === "http:"
      ? new http.Agent({ keepAlive: true, maxSockets: 32 })
      : proxy?.https
        ? new TunnellingAgent(httpsOptions, proxy, tunnelTimeoutMs)
        : new https.Agent(httpsOptions);
  if (proxy) agentProxies.set(agent, proxy);
  const destroy = agent.destroy.bind(agent);
  agent.destroy = () => {
    raw.destroy();
    destroy();
  };
  rawPools.set(agent, raw);
  return agent;
}

/** Header values ferry sends must be one line of visible text (no header injection). */
function checkHeaders(headers: Record<string, string>, url: URL): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || !/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
      throw new RegistryError(
        "EREGISTRY",
        `${displayUrl(url)}: refusing to send header ${JSON.stringify(name.slice(0, 40))}: it holds a line break or another character HTTP does not allow`,
        {
          hint: "a token or credential from a server or a config file is malformed: log in again, or tell the registry's owner",
          details: { host: url.host, header: name.slice(0, 40) },
        },
      );
    }
  }
}

/**
 * One HTTP request over node:http/https (keep-alive pools, custom CAs, streamed bodies).
 * Resolves when the response head arrives; redirects are not followed here.
 */
export function sendHttp(url: URL, init: HttpRequestInit): Promise<HttpResponse> {
  const method = init.method ?? "GET";
  try {
    checkHeaders(init.headers ?? {}, url);
  } catch (error) {
    return Promise.reject(error);
  }
  const raw =
    init.rawBody && init.agent && process.env.FERRY_BLOB_HTTP !== "node"
      ? rawPools.get(init.agent)
      : undefined;
  if (raw && (method === "GET" || method === "HEAD") && init.body === undefined) {
    return sendRaw(raw, url, method, init);
  }
  const route = routeFor(init.agent ? agentProxies.get(init.agent) : undefined, url);
  const transport = url.protocol === "https:" ? https : http;
  return new Promise<HttpResponse>((resolve, reject) => {
    let response: http.IncomingMessage | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const endDeadline = (): void => {
      clearTimeout(deadline);
      deadline = undefined;
    };
    const startDeadline = (): void => {
      if (init.deadlineMs === undefined || deadline !== undefined) return;
      const ms = init.deadlineMs;
      deadline = setTimeout(() => {
        const error = deadlineError(url, ms, route);
        if (response) response.destroy(error);
        request.destroy(error);
      }, ms);
      deadline.unref();
    };
    let request: http.ClientRequest;
    const options: http.RequestOptions = {
      method,
      headers: init.headers ?? {},
      ...(init.agent ? { agent: init.agent } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
    };
    try {
      const onResponse = (res: http.IncomingMessage): void => {
        if (route && url.protocol === "http:" && res.statusCode === 407) {
          // The proxy's refusal, not the server's answer.
          res.destroy();
          endDeadline();
          reject(proxyRefusal(route, url.host, 407, res.statusMessage ?? ""));
          return;
        }
        response = res;
        res.on("error", () => {});
        if (init.deadlineCoversBody) res.once("close", endDeadline);
        else endDeadline();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: res,
          url,
          ...(route ? { route } : {}),
          ...headOnly(init),
        });
      };
      request =
        route && url.protocol === "http:"
          ? // Plain http through a proxy: an absolute-form request to the proxy itself.
            http.request(
              {
                ...options,
                host: route.host,
                port: route.port,
                path: `${url.protocol}//${url.host}${url.pathname}${url.search}`,
                headers: {
                  Host: url.host,
                  ...options.headers,
                  ...(route.authorization ? { "Proxy-Authorization": route.authorization } : {}),
                },
              },
              onResponse,
            )
          : transport.request(url, options, onResponse);
    } catch (error) {
      reject(networkError(error, url, route));
      return;
    }
    request.once("close", () => {
      if (!response) endDeadline();
    });
    if (init.body === undefined) startDeadline();
    else request.once("finish", startDeadline);
    request.setTimeout(init.stallTimeoutMs, () => {
      const error = stallError(url, init.stallTimeoutMs, route);
      if (response) response.destroy(error);
      request.destroy(error);
    });
    let bodyError: unknown;
    request.on("error", (error) => {
      const translated = bodyError ?? networkError(error, url, route);
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

/** A bodyless GET or HEAD over the agent's raw pool; the deadline covers the response head. */
function sendRaw(
  raw: RawPool,
  url: URL,
  method: "GET" | "HEAD",
  init: HttpRequestInit,
): Promise<HttpResponse> {
  let deadline: NodeJS.Timeout | undefined;
  let timedOut: RegistryError | undefined;
  let signal = init.signal;
  if (init.deadlineMs !== undefined) {
    const ms = init.deadlineMs;
    const controller = new AbortController();
    signal = init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    deadline = setTimeout(() => {
      timedOut = deadlineError(url, ms, route);
      controller.abort(timedOut);
    }, ms);
    deadline.unref();
  }
  const route = raw.routeFor(url);
  return raw
    .send(url, {
      method,
      headers: init.headers ?? {},
      stallTimeoutMs: init.stallTimeoutMs,
      signal,
    })
    .then(
      (response) => {
        clearTimeout(deadline);
        if (route && url.protocol === "http:" && response.status === 407) {
          // The proxy's refusal, not the server's answer.
          response.body.destroy();
          throw proxyRefusal(route, url.host, 407, response.statusMessage);
        }
        return {
          status: response.status,
          headers: response.headers,
          body: response.body,
          url,
          ...(route ? { route } : {}),
          ...headOnly(init),
        };
      },
      (error: unknown) => {
        clearTimeout(deadline);
        throw timedOut ?? networkError(error, url, route);
      },
    );
}

/** The deadline a body read whole is held to, when the request's covered only the head. */
function headOnly(init: HttpRequestInit): { readDeadlineMs?: number } {
  return init.deadlineMs !== undefined && !init.deadlineCoversBody
    ? { readDeadlineMs: init.deadlineMs }
    : {};
}

/** Read a (small) body into memory, refusing more than `limit` bytes. */
export async function readBody(response: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const ms = response.readDeadlineMs;
  const deadline =
    ms === undefined
      ? undefined
      : setTimeout(
          () => response.body.destroy(deadlineError(response.url, ms, response.route)),
          ms,
        );
  deadline?.unref();
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
    throw networkError(error, response.url, response.route);
  } finally {
    clearTimeout(deadline);
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
