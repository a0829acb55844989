/**
 * What is attached to an image: signatures, attestations, SBOMs and other artifacts that
 * refer to one of its manifests, and how ferry found them. Pure values and checks, no I/O.
 *
 * How an artifact is found (`AttachedFoundBy`):
 * - `referrers-api`: OCI 1.1 referrers API (`GET /v2/NAME/referrers/DIGEST`); the artifact's
 *   manifest has a `subject` naming the digest.
 * - `referrers-tag`: the referrers tag schema (a registry without the API): the index tagged
 *   `sha256-<hex>` lists it; its manifest has a `subject` too.
 * - `cosign-tag`: cosign's tag conventions, `sha256-<hex>.sig`, `.att`, `.sbom`; no `subject`,
 *   the tag names the digest.
 * - `buildx-attestation`: an attestation manifest of a buildx index (platform
 *   `unknown/unknown`, annotation `vnd.docker.reference.digest` naming the manifest).
 */

import type { Descriptor } from "./descriptor.js";
import { type Digest, digestHex, isDigest } from "./digest.js";
import type { ParsedManifest } from "./manifest.js";

export const ATTACHED_FOUND_BY = [
  "referrers-api",
  "referrers-tag",
  "cosign-tag",
  "buildx-attestation",
] as const;
export type AttachedFoundBy = (typeof ATTACHED_FOUND_BY)[number];

export const ATTACHED_KINDS = ["signature", "attestation", "sbom", "artifact"] as const;
export type AttachedKind = (typeof ATTACHED_KINDS)[number];

/** cosign's tag suffixes, and what each holds. */
export const COSIGN_SUFFIXES = { sig: "signature", att: "attestation", sbom: "sbom" } as const;
export type CosignSuffix = keyof typeof COSIGN_SUFFIXES;

/** The annotations buildx writes on an attestation manifest's descriptor in its index. */
export const BuildxAnnotation = {
  ReferenceType: "vnd.docker.reference.type",
  ReferenceDigest: "vnd.docker.reference.digest",
} as const;
export const BUILDX_ATTESTATION_TYPE = "attestation-manifest";

/** The annotation of a store index.json entry listing what is attached to that image (JSON). */
export const ATTACHED_ANNOTATION = "vnd.ferry.attached";

/** The cosign signature layer's media type, and the annotation holding the signature. */
export const COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";

/**
 * One artifact carried with an image (ferry.json `images[].attached`, the store's
 * `vnd.ferry.attached` annotation). Its manifest and blobs are among the image's blobs.
 */
export interface AttachedArtifact {
  /** The artifact's manifest (or index). */
  digest: Digest;
  mediaType: string;
  size: number;
  /** The manifest's `artifactType`, else its config's media type. */
  artifactType?: string;
  /** The manifest it refers to: one of the image's manifests, or another attached artifact. */
  subject: Digest;
  foundBy: AttachedFoundBy;
  /** `cosign-tag` only: the tag, `sha256-<subject hex>.sig|att|sbom` (always derived). */
  tag?: string;
  kind: AttachedKind;
}

/** An artifact a source says is attached to a manifest, before ferry fetched and checked it. */
export interface AttachedCandidate {
  descriptor: Descriptor;
  subject: Digest;
  foundBy: AttachedFoundBy;
  /** `cosign-tag`: the tag it was found under. */
  tag?: string;
}

/** Which attached artifacts to carry: all of them (`[]`), or those `--attached TYPE` names. */
export interface AttachedSelection {
  types: string[];
}

/** The referrers tag schema's tag for a subject: `sha256-<hex>`. */
export function referrersTag(subject: Digest): string {
  return `sha256-${digestHex(subject)}`;
}

/** cosign's tag for a subject: `sha256-<hex>.sig` (or `.att`, `.sbom`). */
export function cosignTag(subject: Digest, suffix: CosignSuffix): string {
  return `${referrersTag(subject)}.${suffix}`;
}

/** The suffix of a cosign tag when it is exactly the tag cosign uses for `subject`, else undefined. */
export function cosignSuffixOf(tag: string, subject: Digest): CosignSuffix | undefined {
  for (const suffix of Object.keys(COSIGN_SUFFIXES) as CosignSuffix[]) {
    if (tag === cosignTag(subject, suffix)) return suffix;
  }
  return undefined;
}

/** The media types that say what an artifact is: artifactType, config type, layer types. */
export function artifactTypesOf(parsed: ParsedManifest): string[] {
  if (parsed.kind === "index") {
    return [parsed.index.artifactType, ...parsed.index.manifests.map((m) => m.artifactType)].filter(
      (t): t is string => typeof t === "string",
    );
  }
  const { manifest } = parsed;
  return [
    manifest.artifactType,
    manifest.config.mediaType,
    ...manifest.layers.map((l) => l.mediaType),
  ].filter((t): t is string => typeof t === "string");
}

/** The type a referrers list gives an artifact: its artifactType, else its config's type. */
export function artifactTypeOf(parsed: ParsedManifest): string | undefined {
  if (parsed.kind === "index") return parsed.index.artifactType;
  return parsed.manifest.artifactType ?? parsed.manifest.config.mediaType;
}

const SIGNATURE_TYPES = /simplesigning|signature|notary|sigstore\.bundle/i;
const ATTESTATION_TYPES = /in-toto|intoto|dsse|attestation|provenance/i;
const SBOM_TYPES = /spdx|cyclonedx|syft|sbom/i;

/** What an artifact is, from how it was found and its media types. */
export function attachedKindOf(
  foundBy: AttachedFoundBy,
  tag: string | undefined,
  types: string[],
): AttachedKind {
  if (foundBy === "cosign-tag" && tag) {
    const suffix = /\.(sig|att|sbom)$/.exec(tag)?.[1] as CosignSuffix | undefined;
    if (suffix) return COSIGN_SUFFIXES[suffix];
  }
  if (foundBy === "buildx-attestation") return "attestation";
  if (types.some((t) => SIGNATURE_TYPES.test(t))) return "signature";
  if (types.some((t) => ATTESTATION_TYPES.test(t))) return "attestation";
  if (types.some((t) => SBOM_TYPES.test(t))) return "sbom";
  return "artifact";
}

/** Whether `--attached TYPE...` keeps an artifact: TYPE is its kind or one of its media types. */
export function selectionKeeps(
  selection: AttachedSelection,
  kind: AttachedKind,
  types: string[],
): boolean {
  if (selection.types.length === 0) return true;
  return selection.types.some((wanted) => wanted === kind || types.includes(wanted));
}

/** A `--attached` value: a kind word or a media type (`type/subtype`); else undefined. */
export function isAttachedTypeWord(text: string): boolean {
  if ((ATTACHED_KINDS as readonly string[]).includes(text)) return true;
  return /^[A-Za-z0-9][\w.+-]*\/[\w.+-]+$/.test(text) && text.length <= 255;
}

/** Short summary of attached artifacts: `2 signature, 1 sbom` ("" for none). */
export function summarizeAttached(attached: readonly AttachedArtifact[] | undefined): string {
  if (!attached || attached.length === 0) return "";
  const counts = new Map<AttachedKind, number>();
  for (const a of attached) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  return ATTACHED_KINDS.filter((k) => counts.has(k))
    .map((k) => `${counts.get(k)} ${k}`)
    .join(", ");
}

/** Why an attached record is malformed (undefined when it is fine). */
export function attachedRecordProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "is not an object";
  }
  const a = value as Record<string, unknown>;
  if (!isDigest(a.digest)) return "has no valid digest";
  if (!isDigest(a.subject)) return "has no valid subject digest";
  if (a.digest === a.subject) return "names itself as its subject";
  if (typeof a.mediaType !== "string" || a.mediaType.length === 0 || a.mediaType.length > 255) {
    return "has no valid mediaType";
  }
  if (!Number.isSafeInteger(a.size) || (a.size as number) < 0) return "has no valid size";
  if (a.artifactType !== undefined && typeof a.artifactType !== "string") {
    return "has an artifactType that is not a string";
  }
  if (!(ATTACHED_FOUND_BY as readonly unknown[]).includes(a.foundBy)) {
    return `has an unknown foundBy ${JSON.stringify(a.foundBy)}`;
  }
  if (!(ATTACHED_KINDS as readonly unknown[]).includes(a.kind)) {
    return `has an unknown kind ${JSON.stringify(a.kind)}`;
  }
  if (a.foundBy === "cosign-tag") {
    // The tag is recreated on registries: it must be the one cosign derives from the subject,
    // never a name a bundle or a store chose (it could move any tag otherwise).
    if (typeof a.tag !== "string" || !cosignSuffixOf(a.tag, a.subject as Digest)) {
      return "is found by cosign-tag but its tag is not sha256-<subject hex>.sig, .att or .sbom";
    }
  } else if (a.tag !== undefined) {
    return "has a tag but is not found by cosign-tag";
  }
  return undefined;
}

/**
 * The records of a store entry's `vnd.ferry.attached` annotation; malformed ones throw
 * through `fail` (what is wrong and where).
 */
export function parseAttachedAnnotation(
  value: string | undefined,
  fail: (problem: string) => never,
): AttachedArtifact[] {
  if (value === undefined) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch {
    return fail(`${ATTACHED_ANNOTATION} is not valid JSON`);
  }
  if (!Array.isArray(doc)) return fail(`${ATTACHED_ANNOTATION} is not a JSON list`);
  doc.forEach((record, i) => {
    const problem = attachedRecordProblem(record);
    if (problem) fail(`${ATTACHED_ANNOTATION}[${i}] ${problem}`);
  });
  return doc as AttachedArtifact[];
}

/** The annotation value for records (undefined for none: no annotation is written). */
export function attachedAnnotationValue(
  attached: readonly AttachedArtifact[] | undefined,
): string | undefined {
  return attached && attached.length > 0 ? JSON.stringify(attached) : undefined;
}

/**
 * What a store entry records after a load: the new records, plus earlier ones (same name)
 * whose subject is still part of the image and that the new ones do not list, so loading a
 * bundle saved with fewer attachments never drops what the store had for the same manifests.
 */
export function mergeAttached(
  earlier: readonly AttachedArtifact[],
  next: readonly AttachedArtifact[],
  imageDigests: ReadonlySet<string>,
): AttachedArtifact[] {
  const merged = [...next];
  const known = new Set(next.map((a) => a.digest as string));
  // Earlier records may refer to each other (a signature on an SBOM): keep those whose subject
  // is in the image or among what is kept, until nothing more is added.
  let added = true;
  while (added) {
    added = false;
    for (const a of earlier) {
      if (known.has(a.digest)) continue;
      if (imageDigests.has(a.subject) || known.has(a.subject)) {
        merged.push(a);
        known.add(a.digest);
        added = true;
      }
    }
  }
  return merged;
}

/** The candidates in a list of records that refer to `subject`. */
export function candidatesFromRecords(
  records: readonly AttachedArtifact[],
  subject: Digest,
): AttachedCandidate[] {
  const seen = new Set<string>();
  const found: AttachedCandidate[] = [];
  for (const record of records) {
    if (record.subject !== subject || seen.has(record.digest)) continue;
    seen.add(record.digest);
    const descriptor: Descriptor = {
      mediaType: record.mediaType,
      digest: record.digest,
      size: record.size,
    };
    if (record.artifactType) descriptor.artifactType = record.artifactType;
    const candidate: AttachedCandidate = {
      descriptor,
      subject: record.subject,
      foundBy: record.foundBy,
    };
    if (record.tag) candidate.tag = record.tag;
    found.push(candidate);
  }
  return found;
}

/** Whether an index descriptor is a buildx attestation manifest, and the manifest it is for. */
export function buildxAttestationSubject(descriptor: Descriptor): Digest | undefined {
  const annotations = descriptor.annotations;
  if (annotations?.[BuildxAnnotation.ReferenceType] !== BUILDX_ATTESTATION_TYPE) return undefined;
  const subject = annotations[BuildxAnnotation.ReferenceDigest];
  return isDigest(subject) ? subject : undefined;
}
