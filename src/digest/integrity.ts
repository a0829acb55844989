import ssri from "ssri";
import { FerryError } from "../errors.js";
import { type Digest, digestFromHex, digestHex, isSha256Hex } from "../types/digest.js";

/**
 * ssri integrity strings (`sha256-<base64>`), the form npm's cacache uses; ferry.json carries
 * one per blob. Only sha256 is produced or accepted: ssri would otherwise add sha512 (slow).
 */
export function integrityOf(digest: Digest): string {
  const hex = digestHex(digest);
  if (!isSha256Hex(hex)) throw new FerryError("EINTERNAL", `not a sha256 digest: ${digest}`);
  return ssri.fromHex(hex, "sha256").toString();
}

/** The digest an integrity string stands for; undefined when it is not a single sha256 hash. */
export function digestOfIntegrity(integrity: string): Digest | undefined {
  if (typeof integrity !== "string") return undefined;
  const parsed = ssri.parse(integrity, { strict: true });
  const hashes = parsed.sha256;
  if (hashes?.length !== 1 || Object.keys(parsed).length !== 1) return undefined;
  const base64 = hashes[0]?.digest;
  const hex = base64 ? Buffer.from(base64, "base64").toString("hex") : undefined;
  return hex && isSha256Hex(hex) ? digestFromHex(hex) : undefined;
}
