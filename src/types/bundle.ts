import { type BundleProblem, FerryError } from "../errors.js";
import { type AttachedArtifact, attachedRecordProblem } from "./attached.js";
import { type Digest, isDigest } from "./digest.js";
import { FerryAnnotation, OS_IMAGE_KIND } from "./media-types.js";
import { formatReference, isFullReference, parseReference } from "./reference.js";
import { shownField } from "./terminal-text.js";
import { type OsImageSummary, wimImageNamesOf } from "./wim.js";

/** A full, normalized reference with a tag or digest, as ferry writes names. */
function isCanonicalReference(text: string): boolean {
  return (
    isFullReference(text) && formatReference(parseReference(text, { defaultTag: false })) === text
  );
}

/** The schema name ferry.json declares. */
export const BUNDLE_SCHEMA = "ferry.bundle/v1";

/** The fixed files of a bundle (besides blobs). */
export const BundleFile = {
  Layout: "oci-layout",
  Index: "index.json",
  Manifest: "ferry.json",
  Checksums: "SHA256SUMS",
  Signature: "ferry.json.sig",
} as const;

export interface BundleBlob {
  digest: Digest;
  size: number;
  mediaType: string;
  /** ssri integrity string of the same sha256 (`sha256-<base64>`). */
  integrity: string;
}

export interface BundleImage {
  /** Full reference, e.g. `docker.io/library/alpine:3.19`. */
  ref: string;
  /** The root the name points at: a manifest or an index. */
  digest: Digest;
  mediaType: string;
  /** Bytes of every distinct manifest and blob the image needs. */
  size: number;
  /** e.g. `linux/amd64`, `windows/amd64:10.0.20348.2113`. */
  platforms: string[];
  /** Where it was saved from (never a secret). */
  source: string;
  /** Every manifest and blob digest the image needs (carried, or required from the base). */
  blobs: Digest[];
  /** When a platform subset of an index was taken: the original index digest. */
  sourceIndexDigest?: Digest;
  kind: "image" | "os-image";
  annotations?: Record<string, string>;
  /**
   * What is attached to the image's manifests and carried with it (signatures, attestations,
   * SBOMs...): each artifact's manifest, the manifest it refers to (`subject`), and how it
   * was found. Every `digest` and `subject` is among `blobs`. Absent when nothing is attached.
   */
  attached?: AttachedArtifact[];
  /** A root that is not a container image (a Helm chart...): its artifactType or config type. */
  artifactType?: string;
}

export interface BundleFileRecord {
  size: number;
  integrity: string;
}

export interface BundleManifest {
  schema: typeof BUNDLE_SCHEMA;
  id: string;
  created: string;
  /**
   * Signed bundles: this bundle's number in its signing key's sequence (1, 2, ...; from the
   * counter beside the private key, or `save --sequence`). A loader under `--trust` refuses
   * one below the highest it loaded from that key. Absent in unsigned bundles, and in signed
   * bundles saved before ferry wrote sequences (those count as 0).
   */
  sequence?: number;
  tool: string;
  images: BundleImage[];
  /** Blobs the bundle carries. */
  blobs: BundleBlob[];
  /** Blobs the images need that the bundle does not carry (a delta). */
  requires: Array<{ digest: Digest; size: number; mediaType: string }>;
  /** What a delta was computed against. */
  base: { kind: string; id?: string; description?: string } | null;
  files: Record<string, BundleFileRecord>;
  /** The Windows base OS images among `images` (absent when there are none). */
  osImages?: BundleOsImage[];
}

/** A Windows base OS image (.wim) the bundle carries; also in `images` with kind os-image. */
export interface BundleOsImage extends OsImageSummary {
  /** The image's ref in `images` and index.json: `os.ferry.invalid/nanoserver:10.0.14300.1010`. */
  ref: string;
  /** The artifact manifest. */
  manifest: Digest;
  /** The .wim file itself. */
  wim: Digest;
  /** Bytes of the .wim file. */
  size: number;
}

/** The os-image entries of `images`, described from their annotations (ferry.json osImages). */
export function osImagesOf(images: BundleImage[]): BundleOsImage[] {
  return images.flatMap((image): BundleOsImage[] => {
    const a = image.annotations ?? {};
    const wim = a[FerryAnnotation.WimDigest];
    const name = a[FerryAnnotation.OsName];
    const version = a[FerryAnnotation.OsVersion];
    if (image.kind !== OS_IMAGE_KIND || !isDigest(wim) || !name || !version) return [];
    const names = wimImageNamesOf(a[FerryAnnotation.WimImages]);
    return [
      {
        ref: image.ref,
        name,
        version,
        architecture: a[FerryAnnotation.OsArchitecture] ?? "unknown",
        fullName: a[FerryAnnotation.OsFullName] ?? "",
        imageCount: Number(a[FerryAnnotation.WimImageCount] ?? names.length),
        images: names,
        manifest: image.digest,
        wim,
        size: Number(a[FerryAnnotation.WimSize] ?? 0),
      },
    ];
  });
}

function checkOsImages(doc: Record<string, unknown>, check: Check): void {
  if (doc.osImages === undefined) return;
  if (!Array.isArray(doc.osImages)) {
    check(false, "ferry.json", "has an osImages value that is not a list");
    return;
  }
  const images = Array.isArray(doc.images) ? (doc.images as Array<Record<string, unknown>>) : [];
  for (const [i, entry] of doc.osImages.entries()) {
    const subject = `ferry.json osImages[${i}]`;
    const o = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
    check(typeof o.ref === "string", subject, "has no ref");
    check(
      typeof o.name === "string" && typeof o.version === "string",
      subject,
      "has no name/version",
    );
    check(isDigest(o.manifest) && isDigest(o.wim), subject, "has no valid manifest/wim digests");
    check(Number.isSafeInteger(o.size) && (o.size as number) >= 0, subject, "has no valid size");
    const image = images.find((candidate) => candidate?.ref === o.ref);
    check(
      image !== undefined &&
        image.kind === OS_IMAGE_KIND &&
        image.digest === o.manifest &&
        Array.isArray(image.blobs) &&
        image.blobs.includes(o.wim),
      subject,
      "does not match an os-image entry of images (same ref, manifest and wim digests)",
    );
  }
}

type Check = (condition: boolean, subject: string, message: string) => void;

function checkImage(image: unknown, i: number, check: Check): void {
  const subject = `ferry.json images[${i}]`;
  if (typeof image !== "object" || image === null) {
    check(false, subject, "is not an object");
    return;
  }
  const m = image as Record<string, unknown>;
  check(
    typeof m.ref === "string" && isCanonicalReference(m.ref),
    subject,
    `has a ref that is not a full image reference: ${shownField(m.ref)}`,
  );
  check(isDigest(m.digest), subject, "has no valid digest");
  check(typeof m.mediaType === "string", subject, "has no mediaType");
  check(Number.isSafeInteger(m.size) && (m.size as number) >= 0, subject, "has no valid size");
  check(
    Array.isArray(m.platforms) && m.platforms.every((p) => typeof p === "string"),
    subject,
    "has invalid platforms",
  );
  check(typeof m.source === "string", subject, "has no source");
  check(Array.isArray(m.blobs) && m.blobs.every(isDigest), subject, "has an invalid blob list");
  check(m.kind === "image" || m.kind === "os-image", subject, "has an unknown kind");
  check(
    m.artifactType === undefined || typeof m.artifactType === "string",
    subject,
    "has an artifactType that is not a string",
  );
  checkAttached(m, subject, check);
}

/** `attached`: well-formed records whose artifacts and subjects the image carries. */
function checkAttached(image: Record<string, unknown>, subject: string, check: Check): void {
  if (image.attached === undefined) return;
  if (!Array.isArray(image.attached)) {
    check(false, subject, "has an attached value that is not a list");
    return;
  }
  const blobs = new Set(Array.isArray(image.blobs) ? (image.blobs as unknown[]) : []);
  for (const [i, record] of image.attached.entries()) {
    const where = `${subject} attached[${i}]`;
    const problem = attachedRecordProblem(record);
    check(problem === undefined, where, problem ?? "");
    if (problem) continue;
    const a = record as AttachedArtifact;
    check(
      blobs.has(a.digest) && blobs.has(a.subject),
      where,
      "names an artifact or subject that is not among the image's blobs",
    );
  }
}

function checkBlob(blob: unknown, i: number, list: string, check: Check): void {
  const subject = `ferry.json ${list}[${i}]`;
  if (typeof blob !== "object" || blob === null) {
    check(false, subject, "is not an object");
    return;
  }
  const b = blob as Record<string, unknown>;
  check(
    isDigest(b.digest),
    subject,
    b.digest === undefined
      ? "has no digest (missing)"
      : `has an invalid digest ${shownField(b.digest)}`,
  );
  check(Number.isSafeInteger(b.size) && (b.size as number) >= 0, subject, "has an invalid size");
  check(typeof b.mediaType === "string", subject, "has no mediaType");
  if (list === "blobs") check(typeof b.integrity === "string", subject, "has no integrity");
}

/**
 * Parse and validate ferry.json: shape only (the reader cross-checks it against the zip).
 * Every problem found is listed in the thrown error.
 */
export function parseBundleManifest(bytes: Uint8Array): BundleManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new FerryError(
      "EBADBUNDLE",
      `ferry.json is not valid JSON (${(error as Error).message})`,
    );
  }
  const problems: BundleProblem[] = [];
  const check: Check = (condition, subject, message) => {
    if (!condition)
      problems.push({ subject, code: "EBADBUNDLE", message: `${subject} ${message}` });
  };
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new FerryError("EBADBUNDLE", "ferry.json is not a JSON object");
  }
  const m = doc as Record<string, unknown>;
  if (m.schema !== BUNDLE_SCHEMA) {
    throw new FerryError(
      "EBADBUNDLE",
      m.schema === undefined
        ? `ferry.json has no schema (missing); this ferry reads ${BUNDLE_SCHEMA}`
        : `ferry.json declares schema ${shownField(m.schema)}; this ferry reads ${BUNDLE_SCHEMA}`,
      { hint: "use the ferry version that wrote the bundle, or a newer one" },
    );
  }
  check(typeof m.id === "string" && m.id.length > 0, "ferry.json", "has no id");
  check(typeof m.created === "string", "ferry.json", "has no created time");
  check(
    m.sequence === undefined || (Number.isSafeInteger(m.sequence) && (m.sequence as number) >= 1),
    "ferry.json",
    `has a sequence that is not a positive integer: ${shownField(m.sequence)}`,
  );
  check(Array.isArray(m.images), "ferry.json", "has no images list");
  check(Array.isArray(m.blobs), "ferry.json", "has no blobs list");
  check(Array.isArray(m.requires), "ferry.json", "has no requires list");
  check(typeof m.files === "object" && m.files !== null, "ferry.json", "has no files record");
  if (Array.isArray(m.images)) {
    for (const [i, image] of m.images.entries()) checkImage(image, i, check);
  }
  if (Array.isArray(m.blobs)) {
    for (const [i, blob] of m.blobs.entries()) checkBlob(blob, i, "blobs", check);
  }
  if (Array.isArray(m.requires)) {
    for (const [i, blob] of m.requires.entries()) checkBlob(blob, i, "requires", check);
  }
  checkOsImages(m, check);
  if (problems.length > 0) {
    throw new FerryError(
      "EBADBUNDLE",
      `ferry.json is malformed:\n  ${problems.map((p) => p.message).join("\n  ")}`,
      {
        details: { problems },
      },
    );
  }
  return doc as BundleManifest;
}

/** Allowed entry names: the fixed files and `blobs/sha256/<64 hex>` (plus their directories). */
const BLOB_ENTRY = /^blobs\/sha256\/([0-9a-f]{64})$/;
const FIXED_NAMES = new Set<string>(Object.values(BundleFile));
const DIRECTORY_NAMES = new Set(["blobs/", "blobs/sha256/"]);

export type EntryNameVerdict =
  | { ok: true; kind: "file"; name: string }
  | { ok: true; kind: "blob"; digest: Digest }
  | { ok: true; kind: "directory" }
  | { ok: false; reason: string };

/** Judge a zip entry name against the allow-list; say why a rejected one is rejected. */
export function judgeEntryName(name: string): EntryNameVerdict {
  if (FIXED_NAMES.has(name)) return { ok: true, kind: "file", name };
  const blob = BLOB_ENTRY.exec(name);
  if (blob) return { ok: true, kind: "blob", digest: `sha256:${blob[1]}` };
  if (DIRECTORY_NAMES.has(name)) return { ok: true, kind: "directory" };
  if (name.length === 0) return { ok: false, reason: "empty name" };
  if (name.includes("\0")) return { ok: false, reason: "name contains a NUL byte" };
  if (name.startsWith("/") || name.startsWith("\\")) return { ok: false, reason: "absolute path" };
  if (/^[a-zA-Z]:/.test(name)) return { ok: false, reason: "drive-letter path" };
  if (name.includes("\\")) return { ok: false, reason: "backslash in name" };
  if (name.split("/").includes("..")) return { ok: false, reason: "parent-directory (..) path" };
  return {
    ok: false,
    reason:
      "not a bundle file name (allowed: oci-layout, index.json, ferry.json, SHA256SUMS, ferry.json.sig, blobs/sha256/<64 hex>)",
  };
}
