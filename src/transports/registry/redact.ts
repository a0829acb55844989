/**
 * A URL as it may appear in a message, a log or --json: scheme, host and path only. Query
 * strings (signed storage URLs carry tokens in them) and user info are dropped.
 */
export function displayUrl(url: URL | string): string {
  const parsed = typeof url === "string" ? safeParse(url) : url;
  if (!parsed) return "(unparsable URL)";
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

function safeParse(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
