import type { Readable } from "node:stream";
import { SizeError } from "../../errors.js";
import {
  type AttachedArtifact,
  type AttachedCandidate,
  candidatesFromRecords,
} from "../../types/attached.js";
import { type Descriptor, REF_NAME_ANNOTATION } from "../../types/descriptor.js";
import type { Digest } from "../../types/digest.js";
import type { BlobReader, Source, SourceCapabilities, SourceImage } from "../../types/transport.js";
import type { BundleReader } from "./reader.js";

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** A checked bundle as a copy source (for load, push, export). */
export class BundleSource implements Source {
  readonly label: string;
  readonly capabilities: SourceCapabilities = {
    blobReader: (descriptor) => this.blobReader(descriptor),
    lacksBlob: (descriptor) => this.lacksBlob(descriptor),
    attachedTo: async (subject) => this.attachedTo(subject),
  };
  private readonly required: Set<string>;
  /** What ferry.json records as attached, over all its images. */
  private readonly attached: AttachedArtifact[];

  constructor(private readonly reader: BundleReader) {
    this.label = `bundle ${reader.label}`;
    this.required = new Set(reader.manifest?.requires.map((r) => r.digest) ?? []);
    this.attached = (reader.manifest?.images ?? []).flatMap((image) => image.attached ?? []);
  }

  /** The artifacts ferry.json records as attached to `subject` (the planner checks each). */
  attachedTo(subject: Digest): AttachedCandidate[] {
    return candidatesFromRecords(this.attached, subject);
  }

  /** Images as index.json names them (the reader checked it agrees with ferry.json). */
  async images(): Promise<SourceImage[]> {
    const roots = new Map(
      (this.reader.index?.manifests ?? []).map((d) => [d.annotations?.[REF_NAME_ANNOTATION], d]),
    );
    return (this.reader.manifest?.images ?? []).flatMap((image) => {
      const root = roots.get(image.ref);
      if (!root) return [];
      const sourceImage: SourceImage = {
        name: image.ref,
        descriptor: { mediaType: root.mediaType, digest: root.digest, size: root.size },
        origin: image.source,
      };
      if (image.annotations) sourceImage.annotations = image.annotations;
      return sourceImage;
    });
  }

  async fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    return this.reader.readEntry(this.reader.blobEntry(descriptor.digest), MAX_MANIFEST_BYTES);
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.reader.openEntry(this.reader.blobEntry(descriptor.digest));
  }

  /** Stored entries are read in place at their offset in the bundle (or across its parts). */
  async blobReader(descriptor: Descriptor): Promise<BlobReader | undefined> {
    const entry = this.reader.blobEntry(descriptor.digest);
    if (entry.method !== 0) return undefined;
    if (entry.size !== descriptor.size) {
      throw new SizeError(
        `blob ${descriptor.digest} in ${this.reader.label}`,
        descriptor.size,
        entry.size,
        {
          details: { digest: descriptor.digest },
        },
      );
    }
    const source = this.reader.source;
    return {
      read: (buffer, offset, length, position) =>
        source.read(
          buffer,
          offset,
          Math.min(length, entry.size - position),
          entry.dataStart + position,
        ),
      close: async () => {},
    };
  }

  lacksBlob(descriptor: Descriptor): boolean {
    return (
      this.required.has(descriptor.digest) &&
      this.reader.entry(`blobs/sha256/${descriptor.digest.slice(7)}`) === undefined
    );
  }

  async close(): Promise<void> {
    await this.reader.close();
  }
}
