import type { Readable } from "node:stream";
import type { Descriptor } from "../../types/descriptor.js";
import { isForeignLayerMediaType } from "../../types/media-types.js";
import type { Source, SourceCapabilities, SourceImage } from "../../types/transport.js";

/**
 * A bundle source that leaves out, on purpose, foreign layers the bundle does not carry (a
 * save with --skip-foreign): their manifests keep the URLs, and clients fetch them there.
 */
export class ForeignTolerantSource implements Source {
  readonly label: string;
  readonly capabilities: SourceCapabilities;

  constructor(private readonly inner: Source) {
    this.label = inner.label;
    const attachedTo = inner.capabilities?.attachedTo;
    this.capabilities = {
      lacksBlob: (descriptor) => this.lacksBlob(descriptor),
      omitReason: (descriptor) => this.omitReason(descriptor),
      // What the bundle records as attached travels with its images.
      ...(attachedTo ? { attachedTo: (subject) => attachedTo(subject) } : {}),
    };
  }

  images(): Promise<SourceImage[]> {
    return this.inner.images();
  }

  fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    return this.inner.fetchManifest(descriptor);
  }

  openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.inner.openBlob(descriptor);
  }

  lacksBlob(descriptor: Descriptor): boolean {
    return this.inner.capabilities?.lacksBlob?.(descriptor) ?? false;
  }

  omitReason(descriptor: Descriptor): string | undefined {
    if (isForeignLayerMediaType(descriptor.mediaType) && this.lacksBlob(descriptor)) {
      return "foreign layer not carried by the bundle: the manifest keeps its URLs";
    }
    return undefined;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
