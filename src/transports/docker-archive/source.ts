import { createHash } from "node:crypto";
import path from "node:path";
import type { Readable } from "node:stream";
import { sha256Digest } from "../../digest/sha256.js";
import { FerryError, NotFoundError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { type Digest, digestFromHex, isDigest } from "../../types/digest.js";
import { type ImageManifest, parseImageConfig } from "../../types/manifest.js";
import { MediaType } from "../../types/media-types.js";
import { formatReference, parseReference } from "../../types/reference.js";
import type { BlobReader, Source, SourceCapabilities, SourceImage } from "../../types/transport.js";
import { sizedBlobReader } from "../layout/layout-files.js";
import { localRepositoryName } from "../layout/local-name.js";
import { LayoutSource } from "../layout/source.js";
import { TarFiles } from "../tar/tar-files.js";
import { TarReader } from "../tar/tar-reader.js";

/** One entry of `docker save`'s manifest.json. */
interface DockerSaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const MAX_JSON = 16 * 1024 * 1024;
const BLOB_PATH = /^blobs\/sha256\/([0-9a-f]{64})$/;

function parseSaveManifest(bytes: Buffer, where: string): DockerSaveEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new FerryError(
      "EBADIMAGE",
      `${where}: manifest.json is not valid JSON (${(error as Error).message})`,
    );
  }
  const valid =
    Array.isArray(doc) &&
    doc.every(
      (e) =>
        typeof e === "object" &&
        e !== null &&
        typeof (e as DockerSaveEntry).Config === "string" &&
        Array.isArray((e as DockerSaveEntry).Layers) &&
        (e as DockerSaveEntry).Layers.every((l) => typeof l === "string"),
    );
  if (!valid)
    throw new FerryError("EBADIMAGE", `${where}: manifest.json is not a docker save manifest`);
  return doc as DockerSaveEntry[];
}

/** Layer compression, from its first bytes: docker save writes plain tars, others may not. */
function layerMediaType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return MediaType.OciLayerGzip;
  if (head.readUInt32LE(0) === 0xfd2fb528) return MediaType.OciLayerZstd;
  return MediaType.OciLayer;
}

async function readHead(tar: TarReader, name: string): Promise<Buffer> {
  const stream = await tar.openStream(name);
  for await (const chunk of stream) {
    stream.destroy();
    return Buffer.concat([chunk as Buffer, Buffer.alloc(4)]);
  }
  return Buffer.alloc(4);
}

async function hashEntry(tar: TarReader, name: string): Promise<Digest> {
  const hash = createHash("sha256");
  for await (const chunk of await tar.openStream(name)) hash.update(chunk as Buffer);
  return digestFromHex(hash.digest("hex"));
}

/** The image names of one entry: its RepoTags, or a local name when it has none. */
function namesOf(entry: DockerSaveEntry, position: number, archive: string): string[] {
  const tags = entry.RepoTags ?? [];
  if (tags.length === 0)
    return [`${localRepositoryName(path.basename(archive))}:image-${position}`];
  return tags.map((tag) => formatReference(parseReference(tag)));
}

/**
 * `docker-archive:FILE[:REF]`: a `docker save` tarball, read in place. Classic archives
 * (manifest.json, config JSON and layer tars) get OCI manifests built for them (layer digests
 * come from the config's diff_ids and are verified as they are copied). Docker 25+ archives
 * also hold an OCI layout; its manifests are used as they are, so digests are kept.
 * REF is `name:tag` or `@N` (the N-th image of manifest.json).
 */
export class DockerArchiveSource implements Source {
  readonly label: string;
  readonly capabilities: SourceCapabilities = {
    blobReader: (descriptor) => this.blobReader(descriptor),
  };
  private readonly manifests = new Map<string, Buffer>();
  private readonly blobFiles = new Map<string, string>();
  private selected: SourceImage[] = [];
  private layout: LayoutSource | undefined;

  private constructor(private readonly tar: TarReader) {
    this.label = `docker-archive:${tar.path}`;
  }

  static async open(file: string, ref?: string): Promise<DockerArchiveSource> {
    const tar = await TarReader.open(file);
    const source = new DockerArchiveSource(tar);
    try {
      await source.load(ref);
    } catch (error) {
      await tar.close();
      throw error;
    }
    return source;
  }

  private async load(ref: string | undefined): Promise<void> {
    const where = this.tar.path;
    if (!this.tar.find("manifest.json")) {
      throw new FerryError(
        "EBADIMAGE",
        `${where} is not a docker save archive: manifest.json is missing`,
        {
          hint: "for a tar of an OCI layout use oci-archive:FILE",
        },
      );
    }
    const entries = parseSaveManifest(await this.tar.readFile("manifest.json", MAX_JSON), where);
    const pick = this.chooseEntries(entries, ref);
    if (this.tar.find("index.json") && this.tar.find("oci-layout")) {
      this.layout = await LayoutSource.open(new TarFiles(this.tar), {
        transport: this.label,
        fallbackRepository: localRepositoryName(path.basename(where)),
      });
    }
    for (const { entry, position, names } of pick) {
      const descriptor = await this.rootFor(entry, position);
      for (const name of names) {
        this.selected.push({ name, descriptor, origin: `${this.label}:${name}` });
      }
    }
  }

  private chooseEntries(
    entries: DockerSaveEntry[],
    ref: string | undefined,
  ): Array<{ entry: DockerSaveEntry; position: number; names: string[] }> {
    const all = entries.map((entry, position) => ({
      entry,
      position,
      names: namesOf(entry, position, this.tar.path),
    }));
    if (ref === undefined) return all;
    if (/^@\d+$/.test(ref)) {
      const chosen = all[Number(ref.slice(1))];
      if (!chosen)
        throw new NotFoundError(`${this.tar.path} has no image ${ref} (it holds ${all.length})`);
      return [chosen];
    }
    const wanted = formatReference(parseReference(ref));
    for (const candidate of all) {
      if (candidate.names.includes(wanted)) return [{ ...candidate, names: [wanted] }];
    }
    throw new NotFoundError(`${this.tar.path} has no image named ${ref}`, {
      hint: `it holds: ${all.flatMap((c) => c.names).join(", ")}`,
    });
  }

  /** The manifest for one manifest.json entry: found in the OCI layout, or built. */
  private async rootFor(entry: DockerSaveEntry, position: number): Promise<Descriptor> {
    const configBytes = await this.tar.readFile(entry.Config, MAX_JSON);
    const configDigest = sha256Digest(configBytes);
    const fromLayout = await this.findLayoutManifest(configDigest);
    if (fromLayout) return fromLayout;
    const config = parseImageConfig(configBytes, `${this.tar.path} ${entry.Config}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) {
      throw new FerryError(
        "EBADIMAGE",
        `${this.tar.path} image ${position}: ${entry.Layers.length} layers but the config lists ${diffIds.length} diff_ids`,
      );
    }
    this.blobFiles.set(configDigest, entry.Config);
    const layers: Descriptor[] = [];
    for (const [i, layerPath] of entry.Layers.entries()) {
      const file = this.tar.find(layerPath);
      if (!file) throw new NotFoundError(`${this.tar.path}: layer ${layerPath} is missing`);
      const mediaType = layerMediaType(await readHead(this.tar, layerPath));
      const named = BLOB_PATH.exec(layerPath);
      const diffId = diffIds[i];
      let digest: Digest;
      if (named) digest = digestFromHex(named[1] as string);
      else if (mediaType === MediaType.OciLayer && isDigest(diffId)) digest = diffId;
      else digest = await hashEntry(this.tar, layerPath);
      this.blobFiles.set(digest, layerPath);
      layers.push({ mediaType, digest, size: file.size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = sha256Digest(bytes);
    this.manifests.set(digest, bytes);
    return { mediaType: MediaType.OciManifest, digest, size: bytes.length };
  }

  /** In a Docker 25+ archive, the OCI manifest whose config is this one (digests kept). */
  private async findLayoutManifest(configDigest: Digest): Promise<Descriptor | undefined> {
    if (!this.layout) return undefined;
    const candidates: Descriptor[] = [];
    for (const image of await this.layout.images()) {
      candidates.push(image.descriptor);
      if (
        image.descriptor.mediaType === MediaType.OciIndex ||
        image.descriptor.mediaType === MediaType.DockerManifestList
      ) {
        const bytes = await this.layout.fetchManifest(image.descriptor).catch(() => undefined);
        const children = bytes
          ? ((JSON.parse(bytes.toString("utf8")) as { manifests?: Descriptor[] }).manifests ?? [])
          : [];
        candidates.push(...children);
      }
    }
    for (const candidate of candidates) {
      const bytes = await this.layout.fetchManifest(candidate).catch(() => undefined);
      if (!bytes) continue;
      const doc = JSON.parse(bytes.toString("utf8")) as Partial<ImageManifest>;
      if (doc.config?.digest === configDigest) {
        return { mediaType: candidate.mediaType, digest: candidate.digest, size: candidate.size };
      }
    }
    return undefined;
  }

  async images(): Promise<SourceImage[]> {
    return this.selected;
  }

  async fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    const built = this.manifests.get(descriptor.digest);
    if (built) return built;
    if (this.layout) return this.layout.fetchManifest(descriptor);
    throw new NotFoundError(`${this.label}: manifest ${descriptor.digest} is missing`);
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const file = this.blobFiles.get(descriptor.digest);
    if (file) return this.tar.openStream(file);
    if (this.layout) return this.layout.openBlob(descriptor);
    throw new NotFoundError(`${this.label}: blob ${descriptor.digest} is missing`);
  }

  /** Layers and configs read in place through the tar index, for the engine's verified pump. */
  async blobReader(descriptor: Descriptor): Promise<BlobReader | undefined> {
    const file = this.blobFiles.get(descriptor.digest);
    if (file) return sizedBlobReader(this.tar.openReader(file), descriptor, this.label);
    if (this.layout) return this.layout.blobReader(descriptor);
    throw new NotFoundError(`${this.label}: blob ${descriptor.digest} is missing`, {
      details: { digest: descriptor.digest },
    });
  }

  async close(): Promise<void> {
    await this.tar.close();
  }
}
