/** True for an http:// or https:// URL (a WIM to download rather than a path). */
export function isHttpUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/** A URL without credentials, query or fragment (they may hold tokens): safe to print and record. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
