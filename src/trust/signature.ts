import { type KeyObject, sign, verify } from "node:crypto";
import { FerryError } from "../errors.js";
import type { TrustedKey } from "./keys.js";

/** The detached signature file (`ferry.json.sig`, `B.zip.parts.sig`). */
export interface DetachedSignature {
  schema: "ferry.signature/v1";
  algorithm: "ed25519";
  keyId: string;
  /** base64 Ed25519 signature over the exact bytes of the signed file. */
  signature: string;
}

export function signBytes(bytes: Uint8Array, key: KeyObject, keyId: string): Buffer {
  const signature: DetachedSignature = {
    schema: "ferry.signature/v1",
    algorithm: "ed25519",
    keyId,
    signature: sign(null, bytes, key).toString("base64"),
  };
  return Buffer.from(`${JSON.stringify(signature, null, 2)}\n`);
}

function parseSignature(bytes: Uint8Array, what: string): DetachedSignature {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString("utf8")) as DetachedSignature;
    if (
      doc.schema === "ferry.signature/v1" &&
      doc.algorithm === "ed25519" &&
      typeof doc.keyId === "string" &&
      typeof doc.signature === "string"
    ) {
      return doc;
    }
  } catch {
    // fall through
  }
  throw new FerryError("ETRUST", `${what}: the signature file is malformed`, {
    hint: "the bundle was damaged or tampered with: get it again from its signer",
  });
}

/**
 * Check a detached signature over `bytes` against the trusted keys. Returns the key that
 * signed. Unsigned, badly signed or signed by an untrusted key: ETRUST.
 */
export function verifySignature(
  bytes: Uint8Array,
  signatureBytes: Uint8Array | undefined,
  trusted: TrustedKey[],
  what: string,
): TrustedKey {
  if (!signatureBytes) {
    throw new FerryError("ETRUST", `${what} is not signed, and trusted keys are configured`, {
      hint: "ask for a bundle saved with --sign, or drop --trust to accept unsigned bundles",
    });
  }
  const signature = parseSignature(signatureBytes, what);
  const key = trusted.find((k) => k.id === signature.keyId);
  if (!key) {
    throw new FerryError(
      "ETRUST",
      `${what} is signed by key ${signature.keyId}, which is not trusted`,
      {
        hint: `trusted keys: ${trusted.map((k) => `${k.id} (${k.source})`).join(", ")}`,
        details: { keyId: signature.keyId },
      },
    );
  }
  const ok = verify(null, bytes, key.key, Buffer.from(signature.signature, "base64"));
  if (!ok) {
    throw new FerryError(
      "ETRUST",
      `${what}: the signature by key ${key.id} does not match — the bundle was altered after signing`,
      {
        hint: "do not load it; get the bundle again from its signer",
        details: { keyId: key.id },
      },
    );
  }
  return key;
}
