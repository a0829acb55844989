/** A content digest: `sha256:<64 lower-case hex>`. ferry only produces and accepts sha256. */
export type Digest = `sha256:${string}`;

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
const HEX_PATTERN = /^[0-9a-f]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === "string" && DIGEST_PATTERN.test(value);
}

export function isSha256Hex(value: unknown): value is string {
  return typeof value === "string" && HEX_PATTERN.test(value);
}

/** The 64 hex characters of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice("sha256:".length);
}

export function digestFromHex(hex: string): Digest {
  return `sha256:${hex}`;
}

/** `sha256:0123456789ab` — for messages and tables. */
export function shortDigest(digest: string, length = 12): string {
  const hex = digest.startsWith("sha256:") ? digest.slice(7) : digest;
  return `sha256:${hex.slice(0, length)}`;
}
