import { planImage } from "../engine/plan.js";
import { isFerryError } from "../errors.js";
import { refNameOf } from "../transports/layout/index-file.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import {
  type OsImageFacts,
  osImageFactsFromManifestBytes,
  osImagePlatform,
  osImageSummaryOf,
  parseOsImageRef,
} from "../transports/wim/artifact.js";
import type { AttachedArtifact } from "../types/attached.js";
import { CREATED_ANNOTATION } from "../types/descriptor.js";
import { type ImageManifest, parseImageConfig } from "../types/manifest.js";
import { formatPlatform } from "../types/platform.js";
import { familiarRepository, parseReference } from "../types/reference.js";
import type { OsImageSummary } from "../types/wim.js";

export interface StoredImage {
  ref: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  size: number;
  created?: string;
  platforms: string[];
  kind: "image" | "os-image";
  annotations: Record<string, string>;
  /** Set when the image's content could not be read (a damaged store: run `ferry check`). */
  error?: string;
  /** For a Windows base OS image: what its (verified) manifest says. */
  os?: StoredOsImage;
  /** What is attached to the image (signatures, attestations, SBOMs), checked like the image. */
  attached?: AttachedArtifact[];
  /** A root that is not a container image (a Helm chart...): its artifactType or config type. */
  artifactType?: string;
}

/** The facts `ferry images` shows for a Windows base OS image. */
export interface StoredOsImage extends OsImageSummary {
  /** The .wim file's digest and size. */
  wim: string;
  wimSize: number;
}

export interface ListImagesOptions {
  /** Only Windows base OS images (`ferry images --os`). */
  osOnly?: boolean;
}

/** Fill in what an OS image row shows: short repository, platform, creation time, facts. */
function describeOsImage(image: StoredImage, os: OsImageFacts, manifestBytes?: Buffer): void {
  image.kind = "os-image";
  const parts = parseOsImageRef(image.ref);
  if (parts) image.repository = parts.repository;
  image.platforms = [formatPlatform(osImagePlatform(os))];
  try {
    const created = (JSON.parse(manifestBytes?.toString("utf8") ?? "{}") as ImageManifest)
      .annotations?.[CREATED_ANNOTATION];
    if (created) image.created = created;
  } catch {
    // the manifest was verified and parsed already; no creation time is not an error
  }
  image.os = { ...osImageSummaryOf(os), wim: os.wim.digest, wimSize: os.wim.size };
}

/** List the images in the store, like `docker images`. */
export async function listImages(
  storeDir: string,
  options: ListImagesOptions = {},
): Promise<StoredImage[]> {
  if (!(await Store.exists(storeDir))) return [];
  const store = await Store.open(storeDir);
  const source = await LayoutSource.open(store.files, {
    transport: "store",
    fallbackRepository: "localhost/unnamed",
    allowEmpty: true,
  });
  const images: StoredImage[] = [];
  for (const sourceImage of await source.images()) {
    const { descriptor } = sourceImage;
    const refName = refNameOf(descriptor) ?? sourceImage.name;
    const annotations = descriptor.annotations ?? {};
    let repository = refName;
    let tag = "<none>";
    try {
      const ref = parseReference(refName, { defaultTag: false });
      repository = familiarRepository(ref);
      tag = ref.tag ?? "<none>";
    } catch {
      // a name ferry did not write: shown as it is
    }
    const image: StoredImage = {
      ref: refName,
      repository,
      tag,
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      size: 0,
      platforms: [],
      kind: annotations["vnd.ferry.kind"] === "os-image" ? "os-image" : "image",
      annotations,
    };
    try {
      const plan = await planImage(source, sourceImage, { platforms: "all" });
      image.size = plan.size;
      image.platforms = plan.platforms.map(formatPlatform);
      if (plan.attached.length > 0) image.attached = plan.attached;
      if (plan.artifactType) image.artifactType = plan.artifactType;
      const firstConfig = plan.configBytes.values().next();
      if (!firstConfig.done) {
        const created = parseImageConfig(firstConfig.value, "config").created;
        if (created) image.created = created;
      }
      const root = plan.manifests.find((m) => m.descriptor.digest === descriptor.digest);
      const os = root ? osImageFactsFromManifestBytes(root.bytes) : undefined;
      if (os) describeOsImage(image, os, root?.bytes);
    } catch (error) {
      image.error = isFerryError(error) ? error.message : String(error);
    }
    images.push(image);
  }
  return options.osOnly ? images.filter((i) => i.kind === "os-image") : images;
}
