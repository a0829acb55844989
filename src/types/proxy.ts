/**
 * Which proxy a request goes through: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (lower-case
 * forms first, as curl reads them) or `--proxy URL`, and the rules of `NO_PROXY` as curl and
 * Go read them: `*`, host names (the name and its subdomains), `.domain` and `*.domain`, IP
 * addresses, CIDR ranges, each optionally with `:PORT`. Loopback hosts never go through a proxy
 * from the environment (Go's rule); an explicit `--proxy` applies to them too.
 */

import { BlockList, isIP } from "node:net";
import { UsageError } from "../errors.js";
import { isLoopbackHost } from "./url.js";

/** One entry of NO_PROXY. */
export type NoProxyRule =
  | { kind: "all" }
  /** The name itself and every name under it. */
  | { kind: "domain"; name: string; port?: number }
  /** An address or a CIDR range (matches IP-literal hosts only, as curl and Go do). */
  | { kind: "address"; list: BlockList; port?: number };

/** The proxies in force for a command. */
export interface ProxyConfig {
  /** For https:// URLs. */
  https?: URL;
  /** For http:// URLs. */
  http?: URL;
  /** Hosts that never go through the proxy. */
  noProxy: NoProxyRule[];
  /** Loopback hosts go through the proxy too (true only for an explicit --proxy). */
  loopback: boolean;
  /** Where each proxy came from, for messages: `HTTPS_PROXY`, `https_proxy`, `--proxy`. */
  origin: { https?: string; http?: string };
}

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "https:": 443 };

/** `host:port` → name and port; `[v6]:port` and a bare IPv6 address too. */
function splitPort(entry: string): { host: string; port?: number } {
  if (entry.startsWith("[")) {
    const close = entry.indexOf("]");
    if (close < 0) return { host: entry };
    const host = entry.slice(1, close);
    const port = /^:(\d+)$/.exec(entry.slice(close + 1))?.[1];
    return port === undefined ? { host } : { host, port: Number(port) };
  }
  if (isIP(entry) === 6) return { host: entry };
  const match = /^(.*):(\d+)$/.exec(entry);
  return match ? { host: match[1] as string, port: Number(match[2]) } : { host: entry };
}

function addressList(address: string, prefix?: number): BlockList | undefined {
  const family = isIP(address);
  if (family === 0) return undefined;
  const type = family === 4 ? "ipv4" : "ipv6";
  const list = new BlockList();
  if (prefix === undefined) list.addAddress(address, type);
  else {
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
      return undefined;
    list.addSubnet(address, prefix, type);
  }
  return list;
}

/**
 * Parse NO_PROXY: entries separated by commas or white space, case-insensitive. Entries that
 * mean nothing (an empty one, a malformed range) are skipped, as curl and Go skip them.
 */
export function parseNoProxy(text: string): NoProxyRule[] {
  const rules: NoProxyRule[] = [];
  for (const raw of text.toLowerCase().split(/[\s,]+/)) {
    const entry = raw.trim();
    if (!entry) continue;
    if (entry === "*") {
      rules.push({ kind: "all" });
      continue;
    }
    const slash = entry.indexOf("/");
    if (slash >= 0) {
      const address = entry.slice(0, slash).replace(/^\[|\]$/g, "");
      const bits = entry.slice(slash + 1);
      const list = /^\d+$/.test(bits) ? addressList(address, Number(bits)) : undefined;
      if (list) rules.push({ kind: "address", list });
      continue;
    }
    const { host, port } = splitPort(entry);
    const list = addressList(host);
    if (list) {
      rules.push({ kind: "address", list, ...(port === undefined ? {} : { port }) });
      continue;
    }
    const name = host.replace(/^\*?\./, "").replace(/\.$/, "");
    if (name) rules.push({ kind: "domain", name, ...(port === undefined ? {} : { port }) });
  }
  return rules;
}

/** Whether NO_PROXY sends this URL's host straight to it. */
export function bypassesProxy(rules: NoProxyRule[], url: URL): boolean {
  const host = url.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  const port = url.port ? Number(url.port) : (DEFAULT_PORTS[url.protocol] ?? 0);
  const family = isIP(host);
  return rules.some((rule) => {
    if (rule.kind === "all") return true;
    if (rule.port !== undefined && rule.port !== port) return false;
    if (rule.kind === "address") {
      return family !== 0 && rule.list.check(host, family === 4 ? "ipv4" : "ipv6");
    }
    return family === 0 && (host === rule.name || host.endsWith(`.${rule.name}`));
  });
}

/** The proxy for a URL, or undefined to connect directly. */
export function proxyFor(config: ProxyConfig | undefined, url: URL): URL | undefined {
  if (!config) return undefined;
  const proxy =
    url.protocol === "https:" ? config.https : url.protocol === "http:" ? config.http : undefined;
  if (!proxy) return undefined;
  if (!config.loopback && isLoopbackHost(url.host)) return undefined;
  if (bypassesProxy(config.noProxy, url)) return undefined;
  return proxy;
}

/** Where a proxy came from, for a URL's scheme (`HTTPS_PROXY`, `--proxy`). */
export function proxyOrigin(config: ProxyConfig, url: URL): string {
  return (url.protocol === "https:" ? config.origin.https : config.origin.http) ?? "--proxy";
}

/** A proxy as messages name it: scheme, host and port, never its user name or password. */
export function proxyLabel(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/**
 * A proxy URL from a variable or the flag (`origin` names which). No scheme means http://, as
 * curl reads it. The text itself is never quoted back: it may hold a password.
 */
export function parseProxyUrl(text: string, origin: string): URL {
  const trimmed = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${origin}: not a proxy URL`, {
      hint: "write it as http://HOST:PORT, with USER:PASSWORD@ before the host if the proxy asks for them (special characters percent-encoded)",
    });
  }
  if (url.protocol !== "http:") {
    throw new UsageError(
      `${origin}: ${url.protocol}// proxies are not supported (${proxyLabel(url)})`,
      {
        hint: "ferry talks to HTTP proxies (http://HOST:PORT), which carry https through CONNECT tunnels; corporate proxies are almost always of this kind",
      },
    );
  }
  if (!url.hostname) throw new UsageError(`${origin}: the proxy URL names no host`);
  return url;
}

/** An environment variable, lower-case form first (curl's order); empty counts as unset. */
function readVariable(
  env: NodeJS.ProcessEnv,
  name: string,
): { value: string; name: string } | undefined {
  for (const form of [name.toLowerCase(), name.toUpperCase()]) {
    const value = env[form];
    if (value !== undefined && value.trim() !== "") return { value, name: form };
  }
  return undefined;
}

/**
 * The proxies for a command: `--proxy URL` for both schemes (loopback included; `--proxy ""`
 * ignores the environment's proxies), else `HTTPS_PROXY` and `HTTP_PROXY`. `NO_PROXY` applies
 * either way.
 */
export function proxyConfigFrom(env: NodeJS.ProcessEnv, flag?: string): ProxyConfig {
  const noProxy = parseNoProxy(readVariable(env, "NO_PROXY")?.value ?? "");
  if (flag !== undefined) {
    if (flag.trim() === "") return { noProxy, loopback: false, origin: {} };
    const url = parseProxyUrl(flag, "--proxy");
    return {
      https: url,
      http: url,
      noProxy,
      loopback: true,
      origin: { https: "--proxy", http: "--proxy" },
    };
  }
  const https = readVariable(env, "HTTPS_PROXY");
  const http = readVariable(env, "HTTP_PROXY");
  return {
    ...(https ? { https: parseProxyUrl(https.value, https.name) } : {}),
    ...(http ? { http: parseProxyUrl(http.value, http.name) } : {}),
    noProxy,
    loopback: false,
    origin: {
      ...(https ? { https: https.name } : {}),
      ...(http ? { http: http.name } : {}),
    },
  };
}
