import type { Readable } from "node:stream";
import { isFerryError, NotFoundError } from "../../errors.js";
import {
  type AttachedArtifact,
  type AttachedCandidate,
  candidatesFromRecords,
} from "../../types/attached.js";
import { CONTAINERD_NAME_ANNOTATION, type Descriptor } from "../../types/descriptor.js";
import { type Digest, shortDigest } from "../../types/digest.js";
import type { ImageIndex } from "../../types/manifest.js";
import { formatReference, isFullReference, parseReference } from "../../types/reference.js";
import type { BlobReader, Source, SourceCapabilities, SourceImage } from "../../types/transport.js";
import { attachedOfEntry } from "./attached-records.js";
import { blobPath, checkOciLayoutFile, parseLayoutIndex, refNameOf } from "./index-file.js";
import { type FileReader, type LayoutFiles, sizedBlobReader } from "./layout-files.js";

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export interface LayoutSourceOptions {
  /** Prefix for provenance, e.g. `oci:/path` or `oci-archive:/file.tar`. */
  transport: string;
  /** Only the image(s) with this ref name (a tag or a full reference). */
  refName?: string;
  /** Repository used for images whose ref name is only a tag, e.g. `localhost/myapp`. */
  fallbackRepository: string;
  /** An empty layout is fine (the store); otherwise it is an error. */
  allowEmpty?: boolean;
}

/** The full reference an OCI layout entry goes by. */
export function imageNameOf(descriptor: Descriptor, fallbackRepository: string): string {
  const containerdName = descriptor.annotations?.[CONTAINERD_NAME_ANNOTATION];
  if (containerdName && isFullReference(containerdName)) {
    return formatReference(parseReference(containerdName));
  }
  const refName = refNameOf(descriptor);
  if (refName && isFullReference(refName)) return formatReference(parseReference(refName));
  const tag =
    refName && /^[\w][\w.-]{0,127}$/.test(refName)
      ? refName
      : shortDigest(descriptor.digest).replace(":", "-");
  return formatReference(parseReference(`${fallbackRepository}:${tag}`));
}

/** Reads images out of an OCI image layout (a directory, or a tar holding one). */
export class LayoutSource implements Source {
  readonly label: string;
  readonly capabilities: SourceCapabilities = {
    blobReader: (descriptor) => this.blobReader(descriptor),
    attachedTo: async (subject) => this.attachedTo(subject),
  };
  private attached: AttachedArtifact[] | undefined;

  private constructor(
    private readonly files: LayoutFiles,
    private readonly selected: SourceImage[],
    label: string,
  ) {
    this.label = label;
  }

  static async open(files: LayoutFiles, options: LayoutSourceOptions): Promise<LayoutSource> {
    const where = files.label;
    checkOciLayoutFile(await files.readFile("oci-layout", 4096), where);
    const indexBytes = await files.readFile("index.json", MAX_MANIFEST_BYTES);
    if (!indexBytes) throw new NotFoundError(`${where} has no index.json`);
    return LayoutSource.fromIndex(files, parseLayoutIndex(indexBytes, where), options);
  }

  /**
   * The images of an index.json the caller already read (and parsed) once: a command that
   * chose its images from that read pushes or exports exactly those, never what a second read
   * of index.json would say (the store may change in between, or the medium answer otherwise).
   */
  static fromIndex(
    files: LayoutFiles,
    index: ImageIndex,
    options: LayoutSourceOptions,
  ): LayoutSource {
    const where = files.label;
    const all = index.manifests.map((descriptor): SourceImage => {
      const refName = refNameOf(descriptor);
      return {
        name: imageNameOf(descriptor, options.fallbackRepository),
        descriptor,
        origin: `${options.transport}${refName ? `:${refName}` : `@${descriptor.digest}`}`,
      };
    });
    const selected = options.refName ? LayoutSource.pick(all, options.refName, where) : all;
    if (selected.length === 0 && !options.allowEmpty)
      throw new NotFoundError(`${where} holds no images`);
    return new LayoutSource(files, selected, options.transport);
  }

  private static pick(all: SourceImage[], wanted: string, where: string): SourceImage[] {
    const byRefName = all.filter((image) => refNameOf(image.descriptor) === wanted);
    if (byRefName.length > 0) return byRefName;
    let normalized: string | undefined;
    try {
      normalized = formatReference(parseReference(wanted));
    } catch {
      normalized = undefined;
    }
    const byName = all.filter((image) => image.name === normalized);
    if (byName.length > 0) return byName;
    const offered = all.map((image) => refNameOf(image.descriptor) ?? image.name).join(", ");
    throw new NotFoundError(`${where} has no image named ${JSON.stringify(wanted)}`, {
      hint: offered ? `it holds: ${offered}` : "it holds no images",
    });
  }

  async images(): Promise<SourceImage[]> {
    return this.selected;
  }

  /** What the entries of the selected images record as attached (the store's annotation). */
  attachedTo(subject: Digest): AttachedCandidate[] {
    this.attached ??= this.selected.flatMap((image) =>
      attachedOfEntry(image.descriptor, this.label),
    );
    return candidatesFromRecords(this.attached, subject);
  }

  async fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    const bytes = await this.files.readFile(blobPath(descriptor.digest), MAX_MANIFEST_BYTES);
    if (!bytes) throw new NotFoundError(`${this.label}: manifest ${descriptor.digest} is missing`);
    return bytes;
  }

  private missing(descriptor: Descriptor): NotFoundError {
    return new NotFoundError(`${this.label}: blob ${descriptor.digest} is missing`, {
      details: { digest: descriptor.digest },
    });
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const relative = blobPath(descriptor.digest);
    if ((await this.files.size(relative)) === undefined) throw this.missing(descriptor);
    return this.files.openStream(relative);
  }

  /**
   * The blob file read in place, positionally, where the files allow it (a directory, a tar):
   * the engine then copies it through its verified pump. A file of the wrong size is refused
   * here (ESIZE) before a byte is copied.
   */
  async blobReader(descriptor: Descriptor): Promise<BlobReader | undefined> {
    if (!this.files.openReader) return undefined;
    let reader: FileReader;
    try {
      reader = await this.files.openReader(blobPath(descriptor.digest));
    } catch (error) {
      if (isFerryError(error) && error.code === "ENOTFOUND") throw this.missing(descriptor);
      throw error;
    }
    return sizedBlobReader(reader, descriptor, this.label);
  }

  async close(): Promise<void> {
    await this.files.close();
  }
}
