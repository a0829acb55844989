/**
 * The public keys `--cosign-key` names (cosign.pub: PEM SPKI, as `cosign generate-key-pair`
 * writes it), and the check of one cosign signature against them. ECDSA P-256 (signature:
 * ASN.1 DER over the SHA-256 of the payload) and Ed25519 (over the payload itself).
 * Keyless signatures (Fulcio certificates, Rekor entries) are not checked: that needs the
 * transparency log, which an air gap does not have.
 */

import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import { FerryError, fromSystemError } from "../errors.js";
import { keyIdOf } from "./keys.js";

export type CosignKeyType = "ecdsa-p256" | "ed25519";

export interface CosignKey {
  /** The key id (sha256 of the SPKI DER, first 16 bytes in hex). */
  id: string;
  type: CosignKeyType;
  key: KeyObject;
  /** The file it was read from, for messages. */
  source: string;
}

const MAX_KEY_FILE_BYTES = 64 * 1024;

/** Read a cosign public key file: EUSAGE naming the file when it is none ferry can check. */
export async function loadCosignKey(file: string): Promise<CosignKey> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_KEY_FILE_BYTES) throw new Error("too large");
    text = bytes.toString("utf8");
  } catch (error) {
    if (error instanceof Error && error.message === "too large") {
      throw new FerryError("EUSAGE", `${file} is too large for a public key`);
    }
    throw fromSystemError(error, file, "reading cosign key");
  }
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch {
    throw new FerryError("EUSAGE", `${file} is not a PEM public key`, {
      hint: "give cosign's public key (cosign.pub, `-----BEGIN PUBLIC KEY-----`); keyless signatures cannot be checked offline",
    });
  }
  const type = cosignKeyTypeOf(key);
  if (!type) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new FerryError(
      "EUSAGE",
      `${file} is a ${key.asymmetricKeyType}${curve ? ` ${curve}` : ""} key; ferry checks cosign signatures by ECDSA P-256 and Ed25519 keys`,
    );
  }
  return { id: keyIdOf(key), type, key, source: file };
}

function cosignKeyTypeOf(key: KeyObject): CosignKeyType | undefined {
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return "ecdsa-p256";
  }
  return undefined;
}

/** Whether `signature` over `payload` was made by `key` (a malformed signature: false). */
export function cosignSignatureValid(key: CosignKey, payload: Buffer, signature: Buffer): boolean {
  try {
    return key.type === "ed25519"
      ? verify(null, payload, key.key, signature)
      : verify("sha256", payload, key.key, signature);
  } catch {
    return false;
  }
}
