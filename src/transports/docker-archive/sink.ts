import { FerryError } from "../../errors.js";
import { digestHex } from "../../types/digest.js";
import { type ImageManifest, parseManifest } from "../../types/manifest.js";
import { familiarRepository, parseReference } from "../../types/reference.js";
import type { ImageRecord } from "../../types/transport.js";
import { dockerRepoTag } from "../docker-repo-tag.js";
import { blobPath } from "../layout/index-file.js";
import { LayoutTarSink, type WrittenImages } from "../tar/layout-tar-sink.js";
import { tarFileOutput } from "../tar/tar-file-output.js";

/** One entry of `docker save`'s manifest.json. */
interface SaveManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function manifestOf(images: WrittenImages, record: ImageRecord): ImageManifest {
  const bytes = images.manifest(record.descriptor.digest);
  const parsed = parseManifest(bytes, record.descriptor.mediaType, `manifest of ${record.name}`);
  if (parsed.kind !== "manifest") {
    throw new FerryError(
      "EUSAGE",
      `${record.name} is a multi-platform index; docker load takes one platform`,
      { hint: "choose one with --platform os/arch" },
    );
  }
  return parsed.manifest;
}

function saveManifest(images: WrittenImages): SaveManifestEntry[] {
  const byRoot = new Map<string, SaveManifestEntry>();
  for (const record of images.records) {
    const manifest = manifestOf(images, record);
    const tag = dockerRepoTag(record.name);
    const existing = byRoot.get(record.descriptor.digest);
    if (existing) {
      if (tag) existing.RepoTags.push(tag);
      continue;
    }
    byRoot.set(record.descriptor.digest, {
      Config: blobPath(manifest.config.digest),
      RepoTags: tag ? [tag] : [],
      Layers: manifest.layers.map((layer) => blobPath(layer.digest)),
    });
  }
  return [...byRoot.values()];
}

function repositories(images: WrittenImages): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  for (const record of images.records) {
    const ref = parseReference(record.name, { defaultTag: false });
    const layers = manifestOf(images, record).layers;
    const top = layers.at(-1);
    if (!ref.tag || !top) continue;
    const repository = familiarRepository(ref);
    result[repository] = { ...result[repository], [ref.tag]: digestHex(top.digest) };
  }
  return result;
}

/**
 * The files `docker load` reads, for every docker version: `manifest.json` (config and layers
 * of each image, by path) and `repositories`. Each image must be a single-platform manifest.
 */
export function dockerLoadFiles(images: WrittenImages): Array<[string, Buffer]> {
  return [
    ["manifest.json", Buffer.from(JSON.stringify(saveManifest(images)))],
    ["repositories", Buffer.from(JSON.stringify(repositories(images)))],
  ];
}

/**
 * Writes a tarball `docker load` accepts, in the Docker 25+ layout: `manifest.json` and
 * `repositories` for every docker, plus an OCI image layout (`oci-layout`, `index.json`,
 * `blobs/sha256/`) holding each blob once. Each image must be a single-platform manifest.
 * The tar appears under its name only when complete.
 */
export const DockerArchiveSink = {
  async create(target: string): Promise<LayoutTarSink> {
    return new LayoutTarSink(`docker-archive ${target}`, await tarFileOutput(target), {
      extraFiles: dockerLoadFiles,
    });
  },
};
