/**
 * The transfer report a reviewer approves before a bundle crosses the gap (`ferry report`):
 * what the bundle holds, what is attached to each image, which layers images share, what a
 * delta changes, and what changed since an older bundle. Built from a verified ferry.json;
 * pure values, no I/O (rendered by ./html.ts and ./markdown.ts).
 */

import type { AttachedArtifact } from "../attached.js";
import type { BundleImage, BundleManifest } from "../bundle.js";
import { osImagesOf } from "../bundle.js";
import { scaleBytes } from "../byte-units.js";
import { isIndexMediaType, isManifestMediaType } from "../media-types.js";

/** One image's cosign signature check (from `ferry verify --cosign-key`). */
export interface ReportCosign {
  signed: boolean;
  keys: string[];
  rejected: string[];
}

export interface ReportAttached {
  kind: AttachedArtifact["kind"];
  digest: string;
  artifactType: string | null;
  foundBy: AttachedArtifact["foundBy"];
}

export interface ReportImage {
  ref: string;
  digest: string;
  kind: BundleImage["kind"];
  artifactType: string | null;
  platforms: string[];
  /** Windows and OS images: the OS version(s) (from the platform's os.version or the .wim). */
  osVersions: string[];
  size: number;
  source: string;
  attached: ReportAttached[];
  signatures: number;
  sbom: boolean;
  attestationTypes: string[];
  /** With --cosign-key: whether a signature by one of the keys covers the image's digest. */
  cosign: ReportCosign | null;
  /** Layers this image shares with other images of the bundle. */
  sharedLayers: Array<{ digest: string; size: number; with: string[] }>;
  /** Delta bundles: judged from the blobs (see docs/report.md). */
  delta: "new" | "updated" | "unchanged" | "same-layers" | null;
}

export interface ReportChange {
  ref: string;
  change: "added" | "removed" | "changed" | "unchanged";
  oldDigest: string | null;
  newDigest: string | null;
}

export interface TransferReport {
  schema: "ferry.report/v1";
  bundle: string;
  id: string;
  created: string;
  tool: string;
  sequence: number | null;
  /** The key that signed ferry.json; verified when it matched a --trust key. */
  signer: { keyId: string; verified: boolean } | null;
  /** Every byte was checked against its digest before this report was made. */
  verified: true;
  images: ReportImage[];
  sizes: {
    carriedBlobs: number;
    carriedBytes: number;
    requiredBlobs: number;
    requiredBytes: number;
  };
  /** Delta bundles: what it was computed against. */
  base: { kind: string; id: string | null; description: string | null } | null;
  cosignKeys: string[];
  /** `--since OLD.zip`: images added, removed, changed (by name) against the older bundle. */
  since: { bundle: string; id: string; created: string; changes: ReportChange[] } | null;
}

export interface ReportInput {
  bundle: string;
  manifest: BundleManifest;
  signer?: { keyId: string; verified: boolean };
  cosign?: { keys: string[]; images: Array<ReportCosign & { ref: string }> };
  since?: { bundle: string; manifest: BundleManifest };
}

function isLayerType(mediaType: string): boolean {
  return (
    !isManifestMediaType(mediaType) && !isIndexMediaType(mediaType) && !/config/i.test(mediaType)
  );
}

function attachedOf(image: BundleImage): ReportAttached[] {
  return (image.attached ?? []).map((a) => ({
    kind: a.kind,
    digest: a.digest,
    artifactType: a.artifactType ?? null,
    foundBy: a.foundBy,
  }));
}

function osVersionsOf(image: BundleImage, manifest: BundleManifest): string[] {
  const fromPlatforms = image.platforms.flatMap((p) => {
    const colon = p.indexOf(":");
    return colon >= 0 ? [p.slice(colon + 1)] : [];
  });
  const fromWim = (manifest.osImages ?? osImagesOf(manifest.images))
    .filter((o) => o.ref === image.ref)
    .map((o) => o.version);
  return [...new Set([...fromPlatforms, ...fromWim])];
}

/** The layers each image shares with others (a layer: a blob that is no manifest or config). */
function sharedLayersOf(manifest: BundleManifest): Map<string, ReportImage["sharedLayers"]> {
  const types = new Map<string, { size: number; mediaType: string }>();
  for (const b of [...manifest.blobs, ...manifest.requires]) types.set(b.digest, b);
  const users = new Map<string, string[]>();
  for (const image of manifest.images) {
    for (const digest of new Set(image.blobs)) {
      const blob = types.get(digest);
      if (!blob || !isLayerType(blob.mediaType)) continue;
      users.set(digest, [...(users.get(digest) ?? []), image.ref]);
    }
  }
  const shared = new Map<string, ReportImage["sharedLayers"]>();
  for (const image of manifest.images) {
    const list: ReportImage["sharedLayers"] = [];
    for (const digest of new Set(image.blobs)) {
      const others = (users.get(digest) ?? []).filter((ref) => ref !== image.ref);
      if (others.length > 0)
        list.push({ digest, size: types.get(digest)?.size ?? 0, with: others });
    }
    shared.set(image.ref, list);
  }
  return shared;
}

/**
 * A delta's image against its base. With the base bundle at hand (`--since`), by name: `new`,
 * `unchanged` (same digest), `updated`. From the delta alone, which always carries manifests
 * and configs, only its layers tell: `new` (needs no layer from the base), `same-layers` (every
 * layer from the base: unchanged, or only its config changed), `updated` (some of each).
 */
function deltaStatus(
  image: BundleImage,
  required: Set<string>,
  types: Map<string, string>,
  base: Map<string, string> | undefined,
): ReportImage["delta"] {
  if (base) {
    const before = base.get(image.ref);
    return before === undefined ? "new" : before === image.digest ? "unchanged" : "updated";
  }
  const layers = image.blobs.filter((d) => isLayerType(types.get(d) ?? ""));
  const fromBase = layers.filter((d) => required.has(d)).length;
  if (fromBase === 0) return "new";
  return fromBase === layers.length ? "same-layers" : "updated";
}

function changesSince(older: BundleManifest, newer: BundleManifest): ReportChange[] {
  const before = new Map(older.images.map((i) => [i.ref, i.digest as string]));
  const after = new Map(newer.images.map((i) => [i.ref, i.digest as string]));
  const refs = [...new Set([...before.keys(), ...after.keys()])].sort();
  return refs.map((ref) => {
    const oldDigest = before.get(ref) ?? null;
    const newDigest = after.get(ref) ?? null;
    const change =
      oldDigest === null
        ? "added"
        : newDigest === null
          ? "removed"
          : oldDigest === newDigest
            ? "unchanged"
            : "changed";
    return { ref, change, oldDigest, newDigest };
  });
}

/** The report of a verified bundle. */
export function buildReport(input: ReportInput): TransferReport {
  const { manifest } = input;
  const required = new Set<string>(manifest.requires.map((r) => r.digest));
  const isDelta = manifest.requires.length > 0 || manifest.base !== null;
  const shared = sharedLayersOf(manifest);
  const types = new Map<string, string>(
    [...manifest.blobs, ...manifest.requires].map((b) => [b.digest, b.mediaType]),
  );
  const sinceIsBase = input.since !== undefined && input.since.manifest.id === manifest.base?.id;
  const baseImages = sinceIsBase
    ? new Map<string, string>(input.since?.manifest.images.map((i) => [i.ref, i.digest]))
    : undefined;
  const cosign = new Map((input.cosign?.images ?? []).map((c) => [c.ref, c]));
  const images = manifest.images.map((image): ReportImage => {
    const attached = attachedOf(image);
    const verdict = cosign.get(image.ref);
    return {
      ref: image.ref,
      digest: image.digest,
      kind: image.kind,
      artifactType: image.artifactType ?? null,
      platforms: image.platforms,
      osVersions: osVersionsOf(image, manifest),
      size: image.size,
      source: image.source,
      attached,
      signatures: attached.filter((a) => a.kind === "signature").length,
      sbom: attached.some((a) => a.kind === "sbom"),
      attestationTypes: [
        ...new Set(
          attached.filter((a) => a.kind === "attestation").map((a) => a.artifactType ?? a.foundBy),
        ),
      ],
      cosign: verdict
        ? { signed: verdict.signed, keys: verdict.keys, rejected: verdict.rejected }
        : null,
      sharedLayers: shared.get(image.ref) ?? [],
      delta: isDelta ? deltaStatus(image, required, types, baseImages) : null,
    };
  });
  return {
    schema: "ferry.report/v1",
    bundle: input.bundle,
    id: manifest.id,
    created: manifest.created,
    tool: manifest.tool,
    sequence: manifest.sequence ?? null,
    signer: input.signer ?? null,
    verified: true,
    images,
    sizes: {
      carriedBlobs: manifest.blobs.length,
      carriedBytes: manifest.blobs.reduce((sum, b) => sum + b.size, 0),
      requiredBlobs: manifest.requires.length,
      requiredBytes: manifest.requires.reduce((sum, r) => sum + r.size, 0),
    },
    base: manifest.base
      ? {
          kind: manifest.base.kind,
          id: manifest.base.id ?? null,
          description: manifest.base.description ?? null,
        }
      : null,
    cosignKeys: input.cosign?.keys ?? [],
    since: input.since
      ? {
          bundle: input.since.bundle,
          id: input.since.manifest.id,
          created: input.since.manifest.created,
          changes: changesSince(input.since.manifest, manifest),
        }
      : null,
  };
}

/** Bytes as a reviewer reads them (1024-based, one decimal). */
export function reportSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  const { value, unit } = scaleBytes(bytes, 1024, units);
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The one-line summary of what is attached to an image. */
export function attachedSummary(image: ReportImage): string {
  const parts: string[] = [];
  if (image.signatures > 0) {
    const check = image.cosign
      ? image.cosign.signed
        ? `verified with ${image.cosign.keys.join(", ")}`
        : `NOT verified${image.cosign.rejected.length ? `: ${image.cosign.rejected.join("; ")}` : ""}`
      : "not checked (no --cosign-key)";
    parts.push(`${image.signatures} signature(s), ${check}`);
  } else if (image.cosign) {
    parts.push("no signature (a --cosign-key was given)");
  }
  if (image.sbom) parts.push("SBOM");
  if (image.attestationTypes.length > 0) {
    parts.push(`attestations: ${image.attestationTypes.join(", ")}`);
  }
  const other = image.attached.filter((a) => a.kind === "artifact").length;
  if (other > 0) parts.push(`${other} other artifact(s)`);
  return parts.length > 0 ? parts.join("; ") : "nothing attached";
}
