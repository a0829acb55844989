/**
 * The `rel="next"` target of a `Link` header (RFC 8288), resolved against the request URL:
 * `</v2/_catalog?last=b&n=2>; rel="next"`. Undefined when there is no next page.
 */
export function nextPageUrl(header: string, base: URL): string | undefined {
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const [, target = "", params = ""] = match;
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(params)?.[1];
    if (!rel?.split(/\s+/).includes("next")) continue;
    try {
      const url = new URL(target, base);
      if (url.host !== base.host) return undefined;
      return url.toString();
    } catch {
      return undefined;
    }
  }
  return undefined;
}
