/**
 * Artifacts attached to test images, built the way the tools that make them do:
 *
 * - a cosign signature (cosign's own layout: an OCI manifest tagged `sha256-<hex>.sig`, one
 *   `application/vnd.dev.cosign.simplesigning.v1+json` layer holding the simple-signing
 *   payload that names the image digest, the base64 ECDSA P-256 (or Ed25519) signature over
 *   that payload in the layer's `dev.cosignproject.cosign/signature` annotation);
 * - an OCI 1.1 referrer (an SBOM with `artifactType` and `subject`, an empty config), listed
 *   in the referrers tag schema's index `sha256-<hex>` for a registry without the API;
 * - a buildx index with attestation manifests (`unknown/unknown`, `vnd.docker.reference.*`).
 */

import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { COSIGN_SIGNATURE_ANNOTATION, COSIGN_SIMPLESIGNING } from "../../src/types/attached.js";
import { MediaType } from "../../src/types/media-types.js";
import {
  makeImage,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  sha256,
  type TestImage,
} from "./registry.js";

export const SPDX = "application/spdx+json";
export const IN_TOTO = "application/vnd.in-toto+json";

export interface SigningKey {
  privateKey: KeyObject;
  /** The public key, PEM (SPKI), as `cosign generate-key-pair` writes cosign.pub. */
  publicPem: string;
  type: "ecdsa-p256" | "ed25519";
}

export function makeSigningKey(type: SigningKey["type"] = "ecdsa-p256"): SigningKey {
  const pair =
    type === "ed25519"
      ? generateKeyPairSync("ed25519")
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    privateKey: pair.privateKey,
    publicPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
    type,
  };
}

/** cosign's simple-signing payload for an image digest (what `cosign sign` signs). */
export function simpleSigningPayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { "docker-reference": dockerReference },
        image: { "docker-manifest-digest": digest },
        type: "cosign container image signature",
      },
      optional: null,
    }),
  );
}

/** The signature cosign puts in the annotation: base64 of ASN.1 ECDSA (or raw Ed25519). */
export function signPayload(key: SigningKey, payload: Buffer): string {
  const signature =
    key.type === "ed25519"
      ? sign(null, payload, key.privateKey)
      : sign("sha256", payload, key.privateKey);
  return signature.toString("base64");
}

/** A manifest with its blobs (no platform), ready for pushImage. */
function artifact(manifest: Record<string, unknown>, blobs: Buffer[]): TestImage {
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    mediaType: OCI_MANIFEST,
    bytes,
    digest: sha256(bytes),
    blobs: new Map(blobs.map((b) => [sha256(b), b])),
    children: [],
    layers: [],
  };
}

/**
 * A cosign signature manifest over `digest` (cosign 2.x layout), signed by each of `keys`
 * (one layer per signature, as cosign appends them). `payloadDigest` lets a test sign a
 * payload naming another image.
 */
export function makeCosignSignature(
  dockerReference: string,
  digest: string,
  keys: SigningKey[],
  payloadDigest = digest,
): TestImage & { payload: Buffer; signatures: string[] } {
  const payload = simpleSigningPayload(dockerReference, payloadDigest);
  const signatures = keys.map((key) => signPayload(key, payload));
  const config = Buffer.from(
    JSON.stringify({
      architecture: "",
      created: "0001-01-01T00:00:00Z",
      history: [{ created: "0001-01-01T00:00:00Z" }],
      os: "",
      rootfs: { type: "layers", diff_ids: signatures.map(() => sha256(payload)) },
      config: {},
    }),
  );
  const image = artifact(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, size: config.length, digest: sha256(config) },
      layers: signatures.map((signature) => ({
        mediaType: COSIGN_SIMPLESIGNING,
        size: payload.length,
        digest: sha256(payload),
        annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signature },
      })),
    },
    [config, payload],
  );
  return { ...image, payload, signatures };
}

/** An OCI 1.1 referrer of `subject`: `artifactType`, an empty config, one layer. */
export function makeReferrer(
  subject: { mediaType: string; digest: string; size: number },
  artifactType: string,
  content: Buffer,
  annotations: Record<string, string> = {},
): TestImage {
  const empty = Buffer.from("{}");
  return artifact(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: MediaType.OciEmpty, size: empty.length, digest: sha256(empty) },
      layers: [{ mediaType: artifactType, size: content.length, digest: sha256(content) }],
      subject,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    [empty, content],
  );
}

/** The referrers tag schema's index listing `referrers` (what a registry without the API holds). */
export function makeReferrersIndex(referrers: TestImage[]): TestImage {
  const manifests = referrers.map((r) => {
    const doc = JSON.parse(r.bytes.toString()) as {
      artifactType?: string;
      annotations?: Record<string, string>;
    };
    return {
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.bytes.length,
      ...(doc.artifactType ? { artifactType: doc.artifactType } : {}),
      ...(doc.annotations ? { annotations: doc.annotations } : {}),
    };
  });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  return {
    mediaType: OCI_INDEX,
    bytes,
    digest: sha256(bytes),
    blobs: new Map(),
    children: [],
    layers: [],
  };
}

/** `sha256-<hex>`: the referrers tag schema's tag, and cosign's tags' stem. */
export function digestTag(digest: string): string {
  return digest.replace(":", "-");
}

/**
 * A buildx-style index: one image per platform, each followed by its attestation manifest
 * (platform unknown/unknown, in-toto layer, `vnd.docker.reference.digest` naming the image).
 */
export function makeBuildxIndex(platforms: Array<{ os: string; architecture: string }>): {
  index: TestImage;
  images: TestImage[];
  attestations: TestImage[];
} {
  const images = platforms.map((platform) => makeImage({ platform }));
  const attestations = images.map((image) => {
    const statement = Buffer.from(
      JSON.stringify({
        _type: "https://in-toto.io/Statement/v0.1",
        predicateType: "https://slsa.dev/provenance/v0.2",
        subject: [{ name: "pkg:docker/app", digest: { sha256: image.digest.slice(7) } }],
        predicate: { builder: { id: "test" } },
      }),
    );
    const config = Buffer.from(
      JSON.stringify({
        architecture: "unknown",
        os: "unknown",
        config: {},
        rootfs: { type: "layers", diff_ids: [sha256(statement)] },
      }),
    );
    return artifact(
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, size: config.length, digest: sha256(config) },
        layers: [
          {
            mediaType: IN_TOTO,
            size: statement.length,
            digest: sha256(statement),
            annotations: { "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2" },
          },
        ],
      },
      [config, statement],
    );
  });
  const manifests = images.flatMap((image, i) => {
    const attestation = attestations[i] as TestImage;
    return [
      {
        mediaType: image.mediaType,
        digest: image.digest,
        size: image.bytes.length,
        platform: image.platform,
      },
      {
        mediaType: attestation.mediaType,
        digest: attestation.digest,
        size: attestation.bytes.length,
        platform: { architecture: "unknown", os: "unknown" },
        annotations: {
          "vnd.docker.reference.digest": image.digest,
          "vnd.docker.reference.type": "attestation-manifest",
        },
      },
    ];
  });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  const index: TestImage = {
    mediaType: OCI_INDEX,
    bytes,
    digest: sha256(bytes),
    blobs: new Map(),
    children: [...images, ...attestations],
    layers: [],
  };
  return { index, images, attestations };
}

/** The sha256 hex of bytes (for openssl file names). */
export function hexOf(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
