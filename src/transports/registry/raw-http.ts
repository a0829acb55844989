import type { ProxyConfig } from "../../types/proxy.js";
import { openTunnel, type ProxyRoute, routeFor } from "./proxy-tunnel.js";
import { RawConnection } from "./raw-connection.js";
import { codedError, type Exchange, RawBody, type RawResponseHead } from "./raw-exchange.js";

export type { RawBody } from "./raw-exchange.js";

/**
 * A minimal HTTP/1.1 client for bodyless requests (blob GETs) whose response bodies are read
 * straight from the socket into buffers the caller owns (`RawBody.fill`), with `onread`: no
 * Buffer per socket read, no stream, no HTTP parser objects. Node's http client allocates a
 * fresh 64 KiB buffer for every read; at a gigabyte per second that churn made glibc hand
 * memory back and fault it in again, and receiving cost several times what curl spends. Here
 * the kernel copies body bytes into the caller's batch buffer and nothing else touches them.
 *
 * Only what blob downloads need: GET/HEAD without a request body, Content-Length, chunked or
 * close-delimited bodies, keep-alive reuse per origin. Everything else (uploads, token and
 * manifest requests) keeps using node:http.
 *
 * Through a proxy: http URLs are asked of the proxy in absolute form (`GET http://host/path`)
 * on a connection to it, read with `onread` as above; https URLs go through a CONNECT tunnel
 * with TLS inside, whose bytes Node hands over as stream chunks (it offers no `onread` for TLS
 * over an existing socket), copied into the same buffers (`feed`). Without a proxy nothing of
 * this runs.
 */

/** How the connection pool connects: TLS material for https, the proxies. */
export interface RawConnectOptions {
  /** For https: CA list (undefined: the system's), client certificate, verification. */
  tls?: {
    ca?: string[] | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    verify: boolean;
  };
  /** Proxies (see `proxyConfigFrom`); undefined: every host directly. */
  proxy?: ProxyConfig | undefined;
  /** How long a proxy may stay silent while a tunnel is set up (default: the stall timeout). */
  tunnelTimeoutMs?: number | undefined;
}

export interface RawRequest {
  method: "GET" | "HEAD";
  headers: Record<string, string>;
  stallTimeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** Keep-alive connections per origin, for one TLS configuration. */
export class RawPool {
  private readonly idle = new Map<string, RawConnection[]>();
  private readonly all = new Set<RawConnection>();
  private destroyed = false;

  constructor(private readonly options: RawConnectOptions) {}

  release(connection: RawConnection): void {
    if (this.destroyed) {
      connection.close();
      return;
    }
    const list = this.idle.get(connection.key) ?? [];
    list.push(connection);
    this.idle.set(connection.key, list);
  }

  forget(connection: RawConnection): void {
    this.all.delete(connection);
    const list = this.idle.get(connection.key);
    if (!list) return;
    const at = list.indexOf(connection);
    if (at >= 0) list.splice(at, 1);
  }

  /** The proxy a URL goes through (undefined: directly). */
  routeFor(url: URL): ProxyRoute | undefined {
    return routeFor(this.options.proxy, url);
  }

  /** An idle keep-alive connection to the key's origin, if one is left. */
  private takeIdle(key: string): RawConnection | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const connection = list.pop() as RawConnection;
      if (!connection.closed) return connection;
    }
    return undefined;
  }

  private adopt(connection: RawConnection): RawConnection {
    this.all.add(connection);
    return connection;
  }

  /**
   * Send a bodyless request and resolve with the response head and its body. A reused
   * connection the server closed meanwhile is retried once on a fresh one.
   */
  send(url: URL, request: RawRequest): Promise<RawResponseHead & { body: RawBody }> {
    if (this.destroyed) return Promise.reject(codedError("connection pool closed", "ECANCELED"));
    const route = this.routeFor(url);
    const key = route
      ? `${url.protocol}//${url.host} via ${route.label}`
      : `${url.protocol}//${url.host}`;
    return new Promise((resolve, reject) => {
      let settled = false;
      const use = (connection: RawConnection, reused: boolean): void => {
        let exchange: Exchange;
        try {
          exchange = connection.request(url, request);
        } catch (error) {
          connection.close();
          settled = true;
          reject(error);
          return;
        }
        const onAbort = (): void => exchange.fail(codedError("cancelled", "ABORT_ERR"));
        request.signal?.addEventListener("abort", onAbort, { once: true });
        exchange.onHead = (head) => {
          if (settled) return;
          settled = true;
          resolve({ ...head, body: new RawBody(exchange, head.statusMessage) });
        };
        exchange.onDone = () => request.signal?.removeEventListener("abort", onAbort);
        exchange.onFail = (error) => {
          request.signal?.removeEventListener("abort", onAbort);
          if (settled) return;
          if (reused && !request.signal?.aborted) {
            attempt(true);
            return;
          }
          settled = true;
          reject(error);
        };
        if (request.signal?.aborted) onAbort();
      };
      const attempt = (fresh: boolean): void => {
        const idle = this.takeIdle(key);
        if (idle) {
          use(idle, !fresh && idle.socket.readyState === "open");
          return;
        }
        if (!route || url.protocol !== "https:") {
          use(this.adopt(new RawConnection(key, url, this.options, this, route)), false);
          return;
        }
        // https through a proxy: the tunnel first, then TLS inside it.
        const host = url.hostname.replace(/^\[|\]$/g, "");
        const port = Number(url.port || 443);
        openTunnel(route, host, port, {
          timeoutMs: this.options.tunnelTimeoutMs ?? request.stallTimeoutMs,
          signal: request.signal,
        }).then(
          (tunnel) => {
            if (this.destroyed) {
              tunnel.destroy();
              settled = true;
              reject(codedError("connection pool closed", "ECANCELED"));
              return;
            }
            use(this.adopt(new RawConnection(key, url, this.options, this, route, tunnel)), false);
          },
          (error: unknown) => {
            settled = true;
            reject(error);
          },
        );
      };
      attempt(false);
    });
  }

  destroy(): void {
    this.destroyed = true;
    for (const connection of [...this.all]) connection.close();
    this.idle.clear();
  }
}
