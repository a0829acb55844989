import { createHash } from "node:crypto";
import { type Digest, digestFromHex } from "../types/digest.js";

/** sha256 of bytes in memory, as an OCI digest. */
export function sha256Digest(bytes: Uint8Array): Digest {
  return digestFromHex(createHash("sha256").update(bytes).digest("hex"));
}
