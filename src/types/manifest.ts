import { FerryError } from "../errors.js";
import { truncateText } from "./bounded-list.js";
import type { Descriptor } from "./descriptor.js";
import { isDigest } from "./digest.js";
import {
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  MediaType,
} from "./media-types.js";
import type { Platform } from "./platform.js";
import { shownField } from "./terminal-text.js";

/** An OCI image manifest (or Docker v2 schema 2 manifest, which has the same shape). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An OCI image index (or Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The parts of an image config ferry reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
  created?: string;
  author?: string;
  config?: Record<string, unknown>;
  rootfs?: { type: string; diff_ids: string[] };
  history?: Array<{
    created?: string;
    created_by?: string;
    comment?: string;
    empty_layer?: boolean;
    author?: string;
  }>;
}

export type ParsedManifest =
  | { kind: "index"; mediaType: string; index: ImageIndex }
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest };

function bad(what: string, problem: string): FerryError {
  return new FerryError("EBADIMAGE", `${what}: ${problem}`);
}

/** Parse bytes as a JSON object (not an array or a scalar), or fail naming `what`. */
function parseJsonObject(bytes: Uint8Array, what: string): object {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw bad(what, `is not valid JSON (${(error as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw bad(what, "is not a JSON object");
  }
  return doc;
}

/** Validate one descriptor found inside a manifest or index. */
export function checkDescriptor(value: unknown, what: string): Descriptor {
  if (typeof value !== "object" || value === null) throw bad(what, "descriptor is not an object");
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== "string" || d.mediaType.length === 0 || d.mediaType.length > 255) {
    throw bad(what, "descriptor has no valid mediaType");
  }
  if (!isDigest(d.digest)) {
    throw bad(
      what,
      d.digest === undefined
        ? "descriptor digest is missing"
        : `descriptor digest ${shownField(d.digest)} is not a sha256 digest`,
    );
  }
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(
      what,
      d.size === undefined
        ? `descriptor ${d.digest} has no size (missing)`
        : `descriptor ${d.digest} has an invalid size ${shownField(d.size)}`,
    );
  }
  if (
    d.urls !== undefined &&
    !(Array.isArray(d.urls) && d.urls.every((u) => typeof u === "string"))
  ) {
    throw bad(what, `descriptor ${d.digest} has invalid urls`);
  }
  if (d.annotations !== undefined && !isStringRecord(d.annotations)) {
    throw bad(what, `descriptor ${d.digest} has invalid annotations`);
  }
  if (d.platform !== undefined) checkPlatform(d.platform, `${what} (${d.digest})`);
  return value as Descriptor;
}

function checkPlatform(value: unknown, what: string): Platform {
  const p = value as Record<string, unknown>;
  if (
    typeof p !== "object" ||
    p === null ||
    typeof p.os !== "string" ||
    typeof p.architecture !== "string"
  ) {
    throw bad(what, "platform needs os and architecture strings");
  }
  return value as Platform;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string")
  );
}

/**
 * Parse and validate the bytes of a manifest or index. `declaredMediaType` is what the
 * descriptor (or the registry's Content-Type) said; the document's own mediaType, when present,
 * must agree with it in kind. Docker schema 1 is refused.
 */
export function parseManifest(
  bytes: Uint8Array,
  declaredMediaType: string | undefined,
  what: string,
): ParsedManifest {
  const doc = parseJsonObject(bytes, what);
  const m = doc as Record<string, unknown>;
  const ownType = typeof m.mediaType === "string" ? m.mediaType : undefined;
  if (
    isSchema1MediaType(ownType) ||
    isSchema1MediaType(declaredMediaType) ||
    m.schemaVersion === 1
  ) {
    throw new FerryError(
      "EUNSUPPORTED",
      `${what}: Docker schema 1 manifests are not supported (deprecated since 2017)`,
      {
        hint: "rebuild or re-push the image with a current Docker or buildah, which write schema 2 / OCI",
      },
    );
  }
  if (m.schemaVersion !== 2)
    throw bad(
      what,
      m.schemaVersion === undefined
        ? "schemaVersion is missing, expected 2"
        : `has schemaVersion ${shownField(m.schemaVersion)}, expected 2`,
    );
  const isIndex = Array.isArray(m.manifests);
  const isManifest = typeof m.config === "object" && Array.isArray(m.layers);
  if (isIndex === isManifest) throw bad(what, "is neither an image manifest nor an index");
  const mediaType =
    ownType ?? declaredMediaType ?? (isIndex ? MediaType.OciIndex : MediaType.OciManifest);
  if (isIndex && ownType && !isIndexMediaType(ownType))
    throw bad(what, `index has mediaType ${truncateText(ownType, 120)}`);
  if (isManifest && ownType && !isManifestMediaType(ownType))
    throw bad(what, `manifest has mediaType ${truncateText(ownType, 120)}`);
  if (m.annotations !== undefined && !isStringRecord(m.annotations))
    throw bad(what, "has invalid annotations");
  if (isIndex) {
    (m.manifests as unknown[]).forEach((d, i) => {
      checkDescriptor(d, `${what} manifests[${i}]`);
    });
    return { kind: "index", mediaType, index: doc as ImageIndex };
  }
  checkDescriptor(m.config, `${what} config`);
  (m.layers as unknown[]).forEach((d, i) => {
    checkDescriptor(d, `${what} layers[${i}]`);
  });
  return { kind: "manifest", mediaType, manifest: doc as ImageManifest };
}

/** What is wrong when a descriptor's media type disagrees with the document it names. */
export interface DescriptorTypeProblem {
  declared: string;
  /** The document's own mediaType, or its kind when it declares none. */
  actual: string;
  message: string;
}

/**
 * Whether a descriptor's `mediaType` agrees with the manifest or index it names: an index
 * type for an index and a manifest type for a manifest, and, when the document declares its own
 * `mediaType`, that very type (an OCI manifest is not a Docker one). Undefined when they agree.
 */
export function descriptorTypeProblem(
  declared: string,
  parsed: ParsedManifest,
): DescriptorTypeProblem | undefined {
  const own = parsed.kind === "index" ? parsed.index.mediaType : parsed.manifest.mediaType;
  const ownType = typeof own === "string" ? own : undefined;
  const kindAgrees =
    parsed.kind === "index" ? isIndexMediaType(declared) : isManifestMediaType(declared);
  if (kindAgrees && (ownType === undefined || ownType === declared)) return undefined;
  const kind = parsed.kind === "index" ? "an image index" : "an image manifest";
  const actual = ownType === undefined ? kind : shortened(ownType);
  const itself = ownType === undefined ? kind : `${kind} of mediaType ${actual}`;
  return {
    declared: shortened(declared),
    actual,
    message: `its descriptor says mediaType ${shortened(declared)}, but it is ${itself}`,
  };
}

function shortened(text: string): string {
  return truncateText(text, 120);
}

/** Parse an image config blob (lenient: only the fields ferry reads are checked). */
export function parseImageConfig(bytes: Uint8Array, what: string): ImageConfig {
  const config = parseJsonObject(bytes, what) as Record<string, unknown>;
  for (const field of PLATFORM_FIELDS) {
    const value = config[field];
    if (value !== undefined && typeof value !== "string") {
      throw bad(what, `config field "${field}" must be a string, found ${shownField(value)}`);
    }
  }
  const features = config["os.features"];
  if (
    features !== undefined &&
    !(Array.isArray(features) && features.every((f) => typeof f === "string"))
  ) {
    throw bad(
      what,
      `config field "os.features" must be a list of strings, found ${shownField(features)}`,
    );
  }
  return config as ImageConfig;
}

/** The config fields that name the platform: strings when present. */
const PLATFORM_FIELDS = ["os", "architecture", "variant", "os.version"] as const;

/** The platform an image config describes. */
export function platformOfConfig(config: ImageConfig): Platform | undefined {
  if (!config.os || !config.architecture) return undefined;
  const platform: Platform = { os: config.os, architecture: config.architecture };
  if (config.variant) platform.variant = config.variant;
  if (config["os.version"]) platform["os.version"] = config["os.version"];
  return platform;
}
