/**
 * Talking to an HTTP proxy: which proxy a URL goes through (`ProxyRoute`), the CONNECT tunnel
 * that carries https (one TCP connection to the proxy, then TLS to the registry inside it), and
 * the errors that name the proxy (never its user name or password) rather than the registry.
 * Plain http goes to the proxy as absolute-form requests (`GET http://host/path`), sent by the
 * callers (`http.ts`, `raw-http.ts`) with `authorization` as Proxy-Authorization.
 */

import net from "node:net";
import { type ProxyConfig, proxyFor, proxyLabel, proxyOrigin } from "../../types/proxy.js";
import { encodeBasicAuth } from "./docker-config.js";
import { RegistryError } from "./errors.js";

/** The proxy one URL goes through. */
export interface ProxyRoute {
  /** Where to connect: the proxy's host (no brackets) and port. */
  host: string;
  port: number;
  /** `http://proxy:3128`: for messages and connection-pool keys. */
  label: string;
  /** Where the proxy came from (`HTTPS_PROXY`, `--proxy`), for hints. */
  origin: string;
  /** `Basic ...` from the proxy URL's user name and password, if it has them. */
  authorization?: string;
}

/** The route for a URL under a proxy config; undefined: connect directly. */
export function routeFor(config: ProxyConfig | undefined, url: URL): ProxyRoute | undefined {
  const proxy = proxyFor(config, url);
  if (!proxy || !config) return undefined;
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  return {
    host: proxy.hostname.replace(/^\[|\]$/g, ""),
    port: Number(proxy.port || 80),
    label: proxyLabel(proxy),
    origin: proxyOrigin(config, url),
    ...(proxy.username || proxy.password
      ? {
          authorization: `Basic ${encodeBasicAuth(decode(proxy.username), decode(proxy.password))}`,
        }
      : {}),
  };
}

/** `host:port` as a CONNECT request and messages name a target (IPv6 in brackets). */
export function targetAuthority(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, "");
  return `${net.isIPv6(bare) ? `[${bare}]` : bare}:${port}`;
}

/** A status line's reason from the proxy, as printable text. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 80);
}

/** The proxy answered a request (CONNECT, or an absolute-form one) with a refusal. */
export function proxyRefusal(
  route: ProxyRoute,
  target: string,
  status: number,
  reason: string,
): RegistryError {
  const via = `${target}: the proxy ${route.label} (${route.origin})`;
  // 407 is the standard answer; some proxies (tinyproxy) answer wrong credentials with 401.
  if (status === 407 || status === 401) {
    const what = route.authorization
      ? "did not accept the user name and password in the proxy URL"
      : "asks for a user name and password";
    return new RegistryError(
      "ENETWORK",
      `${via} ${what} (HTTP ${status} ${printable(reason)})`.replace(/ \)$/, ")"),
      {
        status,
        hint: route.authorization
          ? "check the user name and password in the proxy URL (special characters percent-encoded)"
          : "give them in the proxy URL, as USER:PASSWORD@ before the host (special characters percent-encoded)",
        details: { host: target, proxy: route.label },
      },
    );
  }
  return new RegistryError(
    "ENETWORK",
    `${via} refused to connect to ${target} (HTTP ${status} ${printable(reason)})`.trimEnd(),
    {
      status,
      transient: status === 502 || status === 503 || status === 504,
      hint: "the proxy cannot reach that host or does not allow it (some allow only port 443): ask its administrators, or name the host in NO_PROXY if it is reachable without the proxy",
      details: { host: target, proxy: route.label },
    },
  );
}

/** A socket error on the way to (or while talking to) the proxy, naming the proxy. */
export function proxySocketError(error: unknown, route: ProxyRoute, target: string): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  const detail = error instanceof Error ? error.message : String(error);
  const via = `${target}: via the proxy ${route.label} (${route.origin})`;
  const hint = `check the proxy address in ${route.origin}, or leave the proxy out (unset it, or --proxy "") if this host is reachable directly`;
  const details = { host: target, proxy: route.label, ...(code ? { systemCode: code } : {}) };
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new RegistryError(
        "ENETWORK",
        `${via}: the proxy's host name was not found (${code})`,
        {
          hint,
          transient: code === "EAI_AGAIN",
          details,
          cause: error,
        },
      );
    case "ECONNREFUSED":
      return new RegistryError("ENETWORK", `${via}: the proxy refused the connection`, {
        hint,
        transient: true,
        details,
        cause: error,
      });
    case "ABORT_ERR":
      return new RegistryError("ENETWORK", `${via}: cancelled`, { details, cause: error });
    default:
      return new RegistryError("ENETWORK", `${via}: ${detail}${code ? ` (${code})` : ""}`, {
        transient: true,
        details,
        cause: error,
      });
  }
}

export interface TunnelOptions {
  /** Fail when the proxy sends nothing for this long (connecting, or answering CONNECT). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const CONNECT_HEAD_LIMIT = 16 * 1024;

/**
 * A TCP connection to the proxy with a CONNECT tunnel to `host:port` open in it: the caller
 * starts TLS inside (`tls.connect({ socket })`). Rejects with a RegistryError naming the proxy.
 */
export function openTunnel(
  route: ProxyRoute,
  host: string,
  port: number,
  options: TunnelOptions,
): Promise<net.Socket> {
  const target = targetAuthority(host, port);
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: route.host, port: route.port });
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    let done = false;
    const finish = (error?: RegistryError): void => {
      if (done) return;
      done = true;
      socket.removeListener("readable", onReadable);
      socket.removeListener("error", onError);
      socket.removeListener("end", onEnd);
      socket.removeListener("close", onEnd);
      socket.removeListener("timeout", onTimeout);
      options.signal?.removeEventListener("abort", onAbort);
      socket.setTimeout(0);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        // From here on the TLS socket inside reports errors (and closes with this one).
        socket.on("error", () => {});
        resolve(socket);
      }
    };
    const onError = (error: Error): void => finish(proxySocketError(error, route, target));
    const onEnd = (): void =>
      finish(
        proxySocketError(
          Object.assign(new Error("the proxy closed the connection before answering CONNECT"), {
            code: "ECONNRESET",
          }),
          route,
          target,
        ),
      );
    const onTimeout = (): void =>
      finish(
        new RegistryError(
          "ENETWORK",
          `${target}: the proxy ${route.label} (${route.origin}) did not answer within ${Math.round(options.timeoutMs / 1000)} s`,
          { transient: true, details: { host: target, proxy: route.label } },
        ),
      );
    const onAbort = (): void =>
      finish(
        proxySocketError(
          Object.assign(new Error("cancelled"), { code: "ABORT_ERR" }),
          route,
          target,
        ),
      );
    const onReadable = (): void => {
      let chunk: Buffer | null = socket.read() as Buffer | null;
      while (chunk !== null) {
        head = Buffer.concat([head, chunk]);
        chunk = socket.read() as Buffer | null;
      }
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > CONNECT_HEAD_LIMIT) {
          onError(Object.assign(new Error("the proxy's answer is too long"), { code: "EPROTO" }));
        }
        return;
      }
      const statusLine = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!match) {
        onError(
          Object.assign(new Error(`not an HTTP answer to CONNECT: ${printable(statusLine)}`), {
            code: "EPROTO",
          }),
        );
        return;
      }
      const status = Number(match[1]);
      if (status < 200 || status > 299) {
        finish(proxyRefusal(route, target, status, match[2] ?? ""));
        return;
      }
      if (head.length > end + 4) {
        // Nothing may come before our TLS hello: a proxy that talks first is not tunnelling.
        onError(
          Object.assign(new Error("the proxy sent bytes before the tunnel was used"), {
            code: "EPROTO",
          }),
        );
        return;
      }
      finish();
    };
    socket.on("readable", onReadable);
    socket.on("error", onError);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("timeout", onTimeout);
    socket.setTimeout(options.timeoutMs);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
    if (route.authorization) lines.push(`Proxy-Authorization: ${route.authorization}`);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  });
}
