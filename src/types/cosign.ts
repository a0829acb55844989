/**
 * cosign's signature format, as `cosign sign --key` writes it (pure values and checks, no I/O):
 * a manifest tagged `sha256-<hex>.sig` whose layers (media type
 * `application/vnd.dev.cosign.simplesigning.v1+json`) each hold a simple-signing payload naming
 * the signed image's digest, with the base64 signature over those payload bytes in the layer's
 * `dev.cosignproject.cosign/signature` annotation.
 */

import { COSIGN_SIGNATURE_ANNOTATION, COSIGN_SIMPLESIGNING } from "./attached.js";
import type { Descriptor } from "./descriptor.js";
import type { ParsedManifest } from "./manifest.js";

/** A payload larger than this is no simple-signing payload (cosign's are a few hundred bytes). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/** One signature of a cosign signature manifest: the payload layer and the signature. */
export interface CosignSignatureLayer {
  payload: Descriptor;
  /** The signature bytes (decoded from base64). */
  signature: Buffer;
}

/** The signature layers of a cosign signature manifest (others are ignored). */
export function cosignSignatureLayers(parsed: ParsedManifest): CosignSignatureLayer[] {
  if (parsed.kind !== "manifest") return [];
  return parsed.manifest.layers.flatMap((layer): CosignSignatureLayer[] => {
    const encoded = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (layer.mediaType !== COSIGN_SIMPLESIGNING || typeof encoded !== "string") return [];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length > 8192) return [];
    return [{ payload: layer, signature: Buffer.from(encoded, "base64") }];
  });
}

/**
 * The image digest a simple-signing payload names (`critical.image.docker-manifest-digest`),
 * or why it names none.
 */
export function signedDigestOf(payload: Buffer): { digest: string } | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString("utf8"));
  } catch {
    return { problem: "its payload is not JSON" };
  }
  const critical = (doc as { critical?: unknown } | null)?.critical as
    | { type?: unknown; image?: { "docker-manifest-digest"?: unknown } }
    | undefined;
  if (typeof critical !== "object" || critical === null) {
    return { problem: "its payload has no critical section" };
  }
  if (critical.type !== "cosign container image signature") {
    return { problem: "its payload is not a cosign container image signature" };
  }
  const digest = critical.image?.["docker-manifest-digest"];
  if (typeof digest !== "string") return { problem: "its payload names no image digest" };
  return { digest };
}
