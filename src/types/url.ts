import { isIP } from "node:net";

/** True for an http:// or https:// URL (a WIM to download rather than a path). */
export function isHttpUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/**
 * A URL as it may appear in a message, a log, a progress line or --json: scheme, host and path
 * only. The user name and password, the query string (signed storage URLs carry their tokens
 * there: `?sig=`, `X-Amz-Signature=`) and the fragment are dropped. The one helper every URL
 * that ferry prints goes through.
 */
export function redactUrl(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    return "(invalid URL)";
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * An http(s) URL inside free text: up to white space, a quote or an angle bracket (what
 * surrounds a URL in Node's messages, JSON and HTML error pages). The scheme is matched in any
 * case, as URL parsers do.
 */
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>`]*/gi;

/**
 * The same redaction for URLs that appear inside a text (an error message, a server's answer
 * quoted in a note), done on the text itself so that unparsable URLs lose their secrets too:
 * the user info before the host's `@` and everything from `?` or `#` on are removed; the rest
 * is left as written.
 */
export function redactUrlsIn(text: string): string {
  if (!/https?:/i.test(text)) return text;
  return text.replace(URL_IN_TEXT, (found) => {
    const schemeEnd = found.indexOf("//") + 2;
    const rest = found.slice(schemeEnd);
    const authorityEnd = rest.search(/[/\\?#]/);
    const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
    const afterAuthority = authorityEnd < 0 ? "" : rest.slice(authorityEnd);
    const host = authority.slice(authority.lastIndexOf("@") + 1);
    const query = afterAuthority.search(/[?#]/);
    const path = query < 0 ? afterAuthority : afterAuthority.slice(0, query);
    return `${found.slice(0, schemeEnd)}${host}${path}`;
  });
}

/** Redact every string in a JSON-like value (error details), leaving its shape as it was. */
export function redactUrlsInValue<T>(value: T): T {
  if (typeof value === "string") return redactUrlsIn(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactUrlsInValue(item)) as T;
  if (
    value !== null &&
    typeof value === "object" &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = redactUrlsInValue(item);
    return out as T;
  }
  return value;
}

/** `localhost`, `*.localhost`, `127.x.x.x`, `::1` (with or without a port, IPv6 in brackets or not). */
export function isLoopbackHost(host: string): boolean {
  let name = host.toLowerCase();
  if (name.startsWith("[")) name = name.slice(1, name.indexOf("]"));
  else if (name.includes(":") && isIP(name) !== 6) name = name.slice(0, name.lastIndexOf(":"));
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  return name === "::1";
}
