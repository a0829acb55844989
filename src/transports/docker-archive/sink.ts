import { createWriteStream, type WriteStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tarStream from "tar-stream";
import { FerryError, fromSystemError } from "../../errors.js";
import {
  CONTAINERD_NAME_ANNOTATION,
  type Descriptor,
  REF_NAME_ANNOTATION,
} from "../../types/descriptor.js";
import { digestHex } from "../../types/digest.js";
import { type ImageManifest, parseManifest } from "../../types/manifest.js";
import { MediaType } from "../../types/media-types.js";
import { familiarRepository, parseReference } from "../../types/reference.js";
import type { ImageRecord, Sink } from "../../types/transport.js";
import { syncDirectory } from "../../util/atomic-file.js";
import { fileOps } from "../../util/fs-retry.js";
import { trackRunTemp } from "../../util/run-temps.js";
import { uniqueTempName } from "../../util/temp-name.js";
import { blobPath, OCI_LAYOUT_FILE } from "../layout/index-file.js";
import { dockerRepoTag } from "./repo-tag.js";

/** One entry of `docker save`'s manifest.json. */
interface SaveManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

const FIXED_MTIME = new Date("2000-01-01T00:00:00Z");

/**
 * Writes a tarball `docker load` accepts, in the Docker 25+ layout: `manifest.json` and
 * `repositories` for every docker, plus an OCI image layout (`oci-layout`, `index.json`,
 * `blobs/sha256/`) holding each blob once. Each image must be a single-platform manifest.
 * The tar appears under its name only when complete.
 */
export class DockerArchiveSink implements Sink {
  readonly label: string;
  readonly maxConcurrentBlobs = 1;
  private readonly written = new Set<string>();
  private readonly manifests = new Map<string, Buffer>();
  private readonly records: ImageRecord[] = [];
  private finished = false;

  private constructor(
    readonly target: string,
    private readonly tempPath: string,
    private readonly pack: tarStream.Pack,
    private readonly done: Promise<void>,
    private readonly file: WriteStream,
  ) {
    this.label = `docker-archive ${target}`;
  }

  static async create(target: string): Promise<DockerArchiveSink> {
    const tempPath = uniqueTempName(target);
    const file = createWriteStream(tempPath, { flags: "wx", mode: 0o644 });
    await new Promise<void>((resolve, reject) => {
      file.once("open", () => resolve());
      file.once("error", (error) => reject(fromSystemError(error, target, "creating")));
    });
    const pack = tarStream.pack();
    const done = pipeline(pack, file);
    done.catch(() => {});
    // Listed for a Ctrl-C that stops ferry at once (see util/run-temps.ts).
    trackRunTemp(tempPath);
    return new DockerArchiveSink(target, tempPath, pack, done, file);
  }

  private async addEntry(name: string, size: number, content: Buffer | Readable): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const header = { name, size, mode: 0o644, mtime: FIXED_MTIME, type: "file" as const };
      if (Buffer.isBuffer(content)) {
        this.pack.entry(header, content, (error) => (error ? reject(error) : resolve()));
        return;
      }
      const entry = this.pack.entry(header, (error) => (error ? reject(error) : resolve()));
      // A blob that fails its check (the engine's verifying stream errors) destroys the entry,
      // which then emits the same error: it is this promise's rejection, never an uncaught one.
      entry.on("error", reject);
      content.on("error", (error) => {
        reject(error);
        entry.destroy(error);
      });
      content.pipe(entry);
    });
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.written.has(descriptor.digest);
  }

  async putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    await this.addEntry(blobPath(descriptor.digest), descriptor.size, stream);
    this.written.add(descriptor.digest);
  }

  async putManifest(descriptor: Descriptor, bytes: Buffer): Promise<void> {
    await this.addEntry(blobPath(descriptor.digest), bytes.length, bytes);
    this.written.add(descriptor.digest);
    this.manifests.set(descriptor.digest, bytes);
  }

  addImage(record: ImageRecord): void {
    this.records.push(record);
  }

  private manifestOf(record: ImageRecord): ImageManifest {
    const bytes = this.manifests.get(record.descriptor.digest);
    if (!bytes) throw new FerryError("EINTERNAL", `manifest of ${record.name} was not written`);
    const parsed = parseManifest(bytes, record.descriptor.mediaType, `manifest of ${record.name}`);
    if (parsed.kind !== "manifest") {
      throw new FerryError(
        "EUSAGE",
        `${record.name} is a multi-platform index; docker load takes one platform`,
        {
          hint: "choose one with --platform os/arch",
        },
      );
    }
    return parsed.manifest;
  }

  private saveManifest(): SaveManifestEntry[] {
    const byRoot = new Map<string, SaveManifestEntry>();
    for (const record of this.records) {
      const manifest = this.manifestOf(record);
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

  private repositories(): Record<string, Record<string, string>> {
    const result: Record<string, Record<string, string>> = {};
    for (const record of this.records) {
      const ref = parseReference(record.name, { defaultTag: false });
      const layers = this.manifestOf(record).layers;
      const top = layers.at(-1);
      if (!ref.tag || !top) continue;
      const repository = familiarRepository(ref);
      result[repository] = { ...result[repository], [ref.tag]: digestHex(top.digest) };
    }
    return result;
  }

  private indexJson(): Buffer {
    const manifests = this.records.map((record) => {
      const ref = parseReference(record.name, { defaultTag: false });
      return {
        mediaType: record.descriptor.mediaType,
        digest: record.descriptor.digest,
        size: record.descriptor.size,
        annotations: {
          [CONTAINERD_NAME_ANNOTATION]: record.name,
          ...(ref.tag ? { [REF_NAME_ANNOTATION]: ref.tag } : {}),
        },
      };
    });
    return Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }),
    );
  }

  async commit(): Promise<void> {
    const files: Array<[string, Buffer]> = [
      ["manifest.json", Buffer.from(JSON.stringify(this.saveManifest()))],
      ["repositories", Buffer.from(JSON.stringify(this.repositories()))],
      ["oci-layout", Buffer.from(OCI_LAYOUT_FILE)],
      ["index.json", this.indexJson()],
    ];
    try {
      for (const [name, bytes] of files) await this.addEntry(name, bytes.length, bytes);
      this.pack.finalize();
      await this.done;
      const handle = await open(this.tempPath, "r+");
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
      // Retried on Windows while a scanner holds the new file (see util/fs-retry.ts).
      await fileOps.rename(this.tempPath, this.target);
      this.finished = true;
      await syncDirectory(path.dirname(this.target));
    } catch (error) {
      await this.abort();
      throw fromSystemError(error, this.target, "writing");
    }
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.pack.destroy();
    this.file.destroy();
    await rm(this.tempPath, { force: true }).catch(() => {});
  }
}
