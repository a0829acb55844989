/**
 * A Windows base OS image (.wim) as an OCI artifact, ORAS style: a manifest whose one layer is
 * the .wim file (`application/x-ms-wim`), a small JSON config with what the WIM's header and XML
 * say, and annotations for name, version, architecture, image count and the legacy full name.
 *
 * Also the naming rules of OS images (pure): where they live among ferry's references and how
 * `nanoserver:10.0.14300.1010` and `CN=Microsoft_NanoServer_10.0.14300.1010` map to them.
 */

import { sha256Digest } from "../../digest/sha256.js";
import { FerryError } from "../../errors.js";
import { CREATED_ANNOTATION, type Descriptor } from "../../types/descriptor.js";
import type { Digest } from "../../types/digest.js";
import type { ImageManifest } from "../../types/manifest.js";
import { FerryAnnotation, MediaType, OS_IMAGE_KIND } from "../../types/media-types.js";
import type { Platform } from "../../types/platform.js";
import { formatReference, parseReference } from "../../types/reference.js";
import type { OsImageSummary, WimHeader, WimImageInfo } from "../../types/wim.js";
import { legacyFullName, WIM_ARCHITECTURES, wimImageNamesOf } from "../../types/wim.js";

/**
 * The registry part of every OS image reference: `os.ferry.invalid/nanoserver:10.0.14300.1010`.
 * `.invalid` is reserved (RFC 2606): no real registry can have this name, so an OS image never
 * collides with `docker.io/library/nanoserver` and cannot be pushed anywhere by accident.
 */
export const OS_IMAGE_REGISTRY = "os.ferry.invalid";

/** The longest image name (registry, `/`, repository) docker's reference grammar allows. */
const OS_IMAGE_NAME_MAX = 255;

/** The tag that follows the newest installed version of each OS image name. */
export const LATEST_TAG = "latest";

const TITLE_ANNOTATION = "org.opencontainers.image.title";
const VERSION_ANNOTATION = "org.opencontainers.image.version";

/** What ferry knows about one OS image: from the WIM when saving, from the manifest later. */
export interface OsImageFacts {
  /** Image 1's NAME as the WIM writes it (`NanoServer`). */
  name: string;
  /** The lower-case repository name (`nanoserver`). */
  repository: string;
  /** MAJOR.MINOR.BUILD.SPBUILD (`10.0.14300.1010`). */
  version: string;
  /** OCI architecture (`amd64`), or `unknown` when the XML names none. */
  architecture: string;
  /** `CN=Microsoft_NanoServer_10.0.14300.1010`. */
  fullName: string;
  imageCount: number;
  /** Every image's NAME, in index order (image 2 is the Hyper-V utility VM, when present). */
  imageNames: string[];
  compression: string;
  /** The .wim file: its sha256 and size. */
  wim: { digest: Digest; size: number };
  /** The store/bundle reference: `os.ferry.invalid/nanoserver:10.0.14300.1010`. */
  ref: string;
}

/** The lower-case repository of an OS image name: white space dropped, other odd characters `-`. */
export function osImageRepository(name: string): string {
  const cleaned = name
    .replace(/\s+/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/[._-]{2,}/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  return cleaned || "windows";
}

/** `os.ferry.invalid/<repository>:<tag>`. */
export function osImageRef(repository: string, tag: string): string {
  return `${OS_IMAGE_REGISTRY}/${repository}:${tag}`;
}

/** The repository and tag of an OS image reference, or undefined for any other reference. */
export function parseOsImageRef(ref: string): { repository: string; tag: string } | undefined {
  const match = /^os\.ferry\.invalid\/([a-z0-9][a-z0-9._-]*):([\w][\w.-]{0,127})$/.exec(ref);
  if (!match) return undefined;
  return { repository: match[1] as string, tag: match[2] as string };
}

/** `nanoserver:10.0.14300.1010` (or `nanoserver:latest`): how people write an OS image. */
export function shortOsImageName(ref: string): string {
  const parts = parseOsImageRef(ref);
  return parts ? `${parts.repository}:${parts.tag}` : ref;
}

/** True for a legacy full name: `CN=Microsoft_<Name>_<Version>` (case-insensitive `CN=`). */
export function isLegacyFullName(text: string): boolean {
  return /^cn=microsoft_.+_\d+(\.\d+)*$/i.test(text);
}

/** The role of an image inside an OS image WIM, for reports. */
export function wimImageRole(index: number): string {
  if (index === 1) return "container base";
  if (index === 2) return "Hyper-V utility VM";
  return "extra image";
}

function badWim(message: string, hint: string): FerryError {
  return new FerryError("EBADWIM", message, { hint });
}

/**
 * The facts of an OS image from a WIM's header and XML. Image 1 is the container base and
 * must have a NAME and a WINDOWS/VERSION; it names the OS image.
 */
export function osImageFactsOf(
  header: WimHeader,
  images: WimImageInfo[],
  wim: { digest: Digest; size: number },
  label: string,
): OsImageFacts {
  const base = images.find((image) => image.index === 1);
  if (!base) throw badWim(`${label}: the WIM has no image 1`, "is this a container base OS image?");
  const name = base.name?.trim();
  if (!name) {
    throw badWim(
      `${label}: image 1 has no NAME, so the OS image cannot be named`,
      "set it on a copy with `wiminfo FILE 1 --image-name NanoServer`",
    );
  }
  if (!base.version) {
    throw badWim(
      `${label}: image 1 (${name}) has no WINDOWS/VERSION, so the OS image has no version`,
      "a Windows base image always carries one; set it on a copy with `wiminfo FILE 1 --image-property WINDOWS/VERSION/MAJOR=10 ...`",
    );
  }
  checkVersionComplete(base, name, label);
  const architecture = knownArchitecture(base, name, label);
  const repository = osImageRepository(name);
  const ref = checkedOsImageRef(repository, base.version, name, label);
  return {
    name,
    repository,
    version: base.version,
    architecture,
    fullName: legacyFullName(name, base.version),
    imageCount: images.length,
    imageNames: images.map((image) => image.name ?? ""),
    compression: header.compression,
    wim,
    ref,
  };
}

/**
 * All four parts of image 1's version: a missing one would be saved as 0, a version the WIM
 * never stated (`10` alone became `10.0.0.0`), naming and matching the wrong OS image.
 */
function checkVersionComplete(base: WimImageInfo, name: string, label: string): void {
  const missing = base.versionPartsMissing ?? [];
  if (missing.length === 0) return;
  const given = ["MAJOR", "MINOR", "BUILD", "SPBUILD"].filter((part) => !missing.includes(part));
  throw badWim(
    `${label}: image 1 (${name}) has WINDOWS/VERSION ${given.join(", ")} but no ${missing.join(", ")}: its version would be a guess (${base.version}), so the OS image is not saved`,
    `a Windows base image carries all four; set the missing part(s) on a copy with \`wiminfo FILE 1 ${missing.map((part) => `--image-property WINDOWS/VERSION/${part}=N`).join(" ")}\``,
  );
}

/**
 * The OCI architecture of image 1: without one the platform would be `windows/unknown`, which
 * no container host matches.
 */
function knownArchitecture(base: WimImageInfo, name: string, label: string): string {
  if (base.architecture) return base.architecture;
  const known = Object.entries(WIM_ARCHITECTURES)
    .map(([code, arch]) => `${code} ${arch}`)
    .join(", ");
  throw badWim(
    base.archCode === undefined
      ? `${label}: image 1 (${name}) has no WINDOWS/ARCH, so its platform would be windows/unknown`
      : `${label}: image 1 (${name}) has WINDOWS/ARCH ${base.archCode}, which is not an architecture ferry knows (${known})`,
    `set it on a copy with \`wiminfo FILE 1 --image-property WINDOWS/ARCH=9\` (9 is amd64; ${known})`,
  );
}

/**
 * The OS image's reference, checked as bundles and the store check references, so that every
 * bundle `save` writes is one `verify` and `load` accept (a 300-character NAME would not be).
 */
function checkedOsImageRef(repository: string, version: string, name: string, label: string) {
  const ref = osImageRef(repository, version);
  let problem: string | undefined;
  try {
    if (formatReference(parseReference(ref, { defaultTag: false })) !== ref) {
      problem = "it does not read back as the same reference";
    }
  } catch (error) {
    // The reason alone: the reference it names is made of the long NAME.
    problem = (error instanceof Error ? error.message : String(error)).replace(
      /^invalid reference "[^"]*": /,
      "",
    );
  }
  if (problem === undefined) return ref;
  const room = OS_IMAGE_NAME_MAX - OS_IMAGE_REGISTRY.length - 1;
  throw badWim(
    `${label}: image 1's NAME (${name.length} characters: ${JSON.stringify(name.slice(0, 40))}${name.length > 40 ? "..." : ""}) cannot name an OS image: ${problem}`,
    `the repository made from it may have at most ${room} characters; set a shorter NAME on a copy with \`wiminfo FILE 1 --image-name NAME\``,
  );
}

/** The platform an OS image provides to container images built on it. */
export function osImagePlatform(facts: Pick<OsImageFacts, "architecture" | "version">): Platform {
  return { os: "windows", architecture: facts.architecture, "os.version": facts.version };
}

/** The facts images, load and inspect show of an OS image. */
export function osImageSummaryOf(facts: OsImageFacts): OsImageSummary {
  return {
    name: facts.name,
    version: facts.version,
    architecture: facts.architecture,
    fullName: facts.fullName,
    imageCount: facts.imageCount,
    images: facts.imageNames,
  };
}

/** The annotations ferry puts on the manifest (and copies into bundle and store indexes). */
export function osImageAnnotations(facts: OsImageFacts): Record<string, string> {
  return {
    [FerryAnnotation.Kind]: OS_IMAGE_KIND,
    [FerryAnnotation.OsName]: facts.name,
    [FerryAnnotation.OsVersion]: facts.version,
    [FerryAnnotation.OsArchitecture]: facts.architecture,
    [FerryAnnotation.OsFullName]: facts.fullName,
    [FerryAnnotation.WimImageCount]: String(facts.imageCount),
    [FerryAnnotation.WimImages]: JSON.stringify(facts.imageNames),
    [FerryAnnotation.WimCompression]: facts.compression,
    [TITLE_ANNOTATION]: facts.name,
    [VERSION_ANNOTATION]: facts.version,
  };
}

/** Manifest annotations plus the WIM's digest and size: what index entries and records carry. */
export function osImageRecordAnnotations(facts: OsImageFacts): Record<string, string> {
  return {
    ...osImageAnnotations(facts),
    [FerryAnnotation.WimDigest]: facts.wim.digest,
    [FerryAnnotation.WimSize]: String(facts.wim.size),
  };
}

/** A blob (or manifest) of the artifact, with its bytes when they are small. */
export interface ArtifactPart {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** The artifact for one WIM: manifest and config bytes, and the layer descriptor of the .wim. */
export interface WimArtifact {
  manifest: ArtifactPart;
  config: ArtifactPart;
  layer: Descriptor;
}

/** The config document: everything the header and XML say, for tools that want more. */
function configDocument(
  facts: OsImageFacts,
  header: WimHeader,
  images: WimImageInfo[],
): Record<string, unknown> {
  return {
    schema: "ferry.wim.config/v1",
    name: facts.name,
    version: facts.version,
    architecture: facts.architecture,
    fullName: facts.fullName,
    compression: header.compression,
    chunkSize: header.chunkSize,
    wimVersion: header.version,
    guid: header.guid,
    bootIndex: header.bootIndex,
    integrityTable: header.integrityTable.sizeInWim > 0,
    imageCount: images.length,
    // As earlier versions wrote it (same WIM, same digest): which parts were absent is not kept.
    images: images.map(({ versionPartsMissing: _, ...image }) => ({
      ...image,
      role: wimImageRole(image.index),
    })),
  };
}

/**
 * Build the artifact of a WIM whose sha256 and size are known. Deterministic: the same WIM
 * (and file name) always gives the same manifest digest.
 */
export function buildWimArtifact(
  facts: OsImageFacts,
  header: WimHeader,
  images: WimImageInfo[],
  fileName: string,
): WimArtifact {
  const configBytes = Buffer.from(`${JSON.stringify(configDocument(facts, header, images))}\n`);
  const config: Descriptor = {
    mediaType: MediaType.WimConfig,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  const layer: Descriptor = {
    mediaType: MediaType.Wim,
    digest: facts.wim.digest,
    size: facts.wim.size,
    annotations: { [TITLE_ANNOTATION]: fileName },
  };
  const created = images.find((image) => image.index === 1)?.creationTime;
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: MediaType.WimArtifact,
    config,
    layers: [layer],
    annotations: {
      ...osImageAnnotations(facts),
      ...(created ? { [CREATED_ANNOTATION]: created } : {}),
    },
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    manifest: {
      descriptor: {
        mediaType: MediaType.OciManifest,
        digest: sha256Digest(manifestBytes),
        size: manifestBytes.length,
        artifactType: MediaType.WimArtifact,
      },
      bytes: manifestBytes,
    },
    config: { descriptor: config, bytes: configBytes },
    layer,
  };
}

/** True when a manifest is a WIM artifact (ferry's, or any with a `application/x-ms-wim` layer). */
export function isWimArtifact(manifest: Pick<ImageManifest, "artifactType" | "layers">): boolean {
  return (
    manifest.artifactType === MediaType.WimArtifact ||
    (manifest.layers?.some((layer) => layer.mediaType === MediaType.Wim) ?? false)
  );
}

/**
 * The facts of an OS image from its manifest (the verified record: the manifest digest covers
 * the annotations and the WIM's digest). Undefined for anything that is not a WIM artifact or
 * lacks the name and version annotations.
 */
export function osImageFactsFromManifest(manifest: ImageManifest): OsImageFacts | undefined {
  if (!isWimArtifact(manifest)) return undefined;
  const a = manifest.annotations ?? {};
  const layer = manifest.layers.find((l) => l.mediaType === MediaType.Wim);
  const name = a[FerryAnnotation.OsName];
  const version = a[FerryAnnotation.OsVersion];
  if (!layer || !name || !version) return undefined;
  const imageNames = wimImageNamesOf(a[FerryAnnotation.WimImages]);
  const repository = osImageRepository(name);
  const imageCount = Number(a[FerryAnnotation.WimImageCount] ?? imageNames.length);
  return {
    name,
    repository,
    version,
    architecture: a[FerryAnnotation.OsArchitecture] ?? "unknown",
    fullName: a[FerryAnnotation.OsFullName] ?? legacyFullName(name, version),
    imageCount: Number.isSafeInteger(imageCount) ? imageCount : imageNames.length,
    imageNames,
    compression: a[FerryAnnotation.WimCompression] ?? "unknown",
    wim: { digest: layer.digest, size: layer.size },
    ref: osImageRef(repository, version),
  };
}

/** Parse manifest bytes and return OS image facts, or undefined (never throws). */
export function osImageFactsFromManifestBytes(bytes: Uint8Array): OsImageFacts | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString("utf8")) as ImageManifest;
    if (typeof doc !== "object" || doc === null || !Array.isArray(doc.layers)) return undefined;
    return osImageFactsFromManifest(doc);
  } catch {
    return undefined;
  }
}
