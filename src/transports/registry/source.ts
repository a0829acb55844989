import { Readable } from "node:stream";
import { sha256Digest } from "../../digest/sha256.js";
import { IntegrityError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { type Digest, isDigest } from "../../types/digest.js";
import { parseManifest } from "../../types/manifest.js";
import {
  isForeignLayerMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
} from "../../types/media-types.js";
import { formatReference, parseReference, type Reference } from "../../types/reference.js";
import type { BlobReader, Source, SourceCapabilities, SourceImage } from "../../types/transport.js";
import type { RegistryClient } from "./client.js";
import { AttachedDiscovery } from "./referrers.js";
import type { RegistrySession } from "./session.js";

export interface RegistrySourceOptions {
  /** Leave foreign layers out of the copy (they are recorded as required, not carried). */
  skipForeign?: boolean;
}

/** The reason the engine is given for a foreign layer left out. */
export const SKIP_FOREIGN_REASON = "foreign layer left out (--skip-foreign)";

function declaredMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  return isIndexMediaType(contentType) ||
    isManifestMediaType(contentType) ||
    isSchema1MediaType(contentType)
    ? contentType
    : undefined;
}

/**
 * One image in a registry (`docker://host/repo:tag`, `...@sha256:...`) as a copy source.
 * The tag's digest is the sha256 of the exact manifest bytes received (checked against the
 * registry's Docker-Content-Digest when it sends one); manifests fetched by digest are checked
 * by the engine. Blobs come through the session's download cache; the engine is offered
 * `prefetch` (queue them, bounded, ahead of a one-blob-at-a-time sink), `blobReader` (the
 * download read as it grows, or the cache file), `omitReason` (--skip-foreign), and the
 * session hears the engine's events about these blobs (`onBlobEvent`): a verified download is
 * published into the cache, a rejected one dropped.
 */
export class RegistrySource implements Source {
  readonly label: string;
  readonly capabilities: SourceCapabilities = {
    blobReader: (descriptor) => this.blobReader(descriptor),
    prefetch: (descriptors) => this.prefetch(descriptors),
    omitReason: (descriptor) => this.omitReason(descriptor),
    onBlobEvent: (event) => this.session.onBlobEvent(event),
    attachedTo: (subject) => this.discovery.find(subject),
  };
  readonly reference: Reference;
  /** Foreign layers left out under --skip-foreign (for the summary). */
  readonly omitted: Descriptor[] = [];
  private readonly name: string;
  private readonly manifests = new Map<string, Buffer>();
  private resolved: Promise<SourceImage[]> | undefined;
  private readonly discovery: AttachedDiscovery;

  constructor(
    private readonly session: RegistrySession,
    reference: string | Reference,
    private readonly options: RegistrySourceOptions = {},
  ) {
    this.reference = typeof reference === "string" ? parseReference(reference) : reference;
    this.name = formatReference(this.reference);
    this.label = `docker://${this.name}`;
    this.discovery = new AttachedDiscovery({
      client: () => this.client(),
      repository: this.reference.repository,
      name: this.name,
      keep: (digest, bytes) => this.manifests.set(digest, bytes),
    });
  }

  private client(): Promise<RegistryClient> {
    return this.session.client(this.reference.registry);
  }

  images(): Promise<SourceImage[]> {
    this.resolved ??= this.resolve();
    return this.resolved;
  }

  private async resolve(): Promise<SourceImage[]> {
    const { repository, digest, tag } = this.reference;
    const client = await this.client();
    const what = `manifest of ${this.name}`;
    const fetched = await client.getManifest(repository, digest ?? tag ?? "latest", what);
    const parsed = parseManifest(fetched.bytes, declaredMediaType(fetched.contentType), what);
    let rootDigest: Digest;
    if (digest) {
      rootDigest = digest;
    } else {
      rootDigest = sha256Digest(fetched.bytes);
      const claimed = fetched.digestHeader;
      if (claimed && isDigest(claimed) && claimed !== rootDigest) {
        throw new IntegrityError(`${what} from ${client.registry}`, claimed, rootDigest, {
          hint: "the bytes received are not the ones the registry named (a proxy changing them?): nothing was saved",
          details: { digest: claimed },
        });
      }
    }
    this.manifests.set(rootDigest, fetched.bytes);
    const descriptor: Descriptor = {
      mediaType: parsed.mediaType,
      digest: rootDigest,
      size: fetched.bytes.length,
    };
    return [{ name: this.name, descriptor, origin: this.label }];
  }

  async fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    const known = this.manifests.get(descriptor.digest);
    if (known) return known;
    const client = await this.client();
    const fetched = await client.getManifest(
      this.reference.repository,
      descriptor.digest,
      `manifest ${descriptor.digest} of ${this.name}`,
    );
    return fetched.bytes;
  }

  private async request(descriptor: Descriptor) {
    return {
      client: await this.client(),
      repository: this.reference.repository,
      descriptor,
      what: `blob ${descriptor.digest} of ${this.name}`,
    };
  }

  /** The blob's bytes as the download writes them (or from the cache); the engine hashes them. */
  async blobReader(descriptor: Descriptor): Promise<BlobReader> {
    return this.session.blobReader({ ...(await this.request(descriptor)), urgent: true });
  }

  /**
   * The same bytes as `blobReader`, as a stream (for sinks that take streams, and the planner
   * reading a config). Always through the cache's partial file: a stream's reader says nothing
   * of where the bytes land, so a direct download's bytes could not be kept.
   */
  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const reader = await this.session.blobReader({
      ...(await this.request(descriptor)),
      urgent: true,
      throughCache: true,
    });
    return readerStream(reader, descriptor.size);
  }

  /** Start downloading the blobs the copy will open, in its order. */
  prefetch(descriptors: Descriptor[]): void {
    void (async () => {
      for (const descriptor of descriptors) this.session.prefetch(await this.request(descriptor));
    })().catch(() => {
      // reported when the engine opens the blob
    });
  }

  /** Foreign layers are left out under --skip-foreign. */
  omitReason(descriptor: Descriptor): string | undefined {
    if (!this.options.skipForeign || !isForeignLayerMediaType(descriptor.mediaType))
      return undefined;
    if (!this.omitted.some((d) => d.digest === descriptor.digest)) this.omitted.push(descriptor);
    return SKIP_FOREIGN_REASON;
  }

  async close(): Promise<void> {
    this.manifests.clear();
  }
}

const STREAM_CHUNK = 1024 * 1024;

/** A stream of `size` bytes read from a BlobReader in 1 MiB chunks (closed at the end). */
export function readerStream(reader: BlobReader, size: number): Readable {
  let position = 0;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await reader.close();
  };
  return new Readable({
    highWaterMark: STREAM_CHUNK,
    read() {
      if (position >= size) {
        close().then(
          () => this.push(null),
          (error: unknown) => this.destroy(error as Error),
        );
        return;
      }
      const buffer = Buffer.allocUnsafe(Math.min(STREAM_CHUNK, size - position));
      reader.read(buffer, 0, buffer.length, position).then(
        (count) => {
          if (count === 0) {
            // Short: the engine's size check names it.
            close().then(
              () => this.push(null),
              (error: unknown) => this.destroy(error as Error),
            );
            return;
          }
          position += count;
          this.push(count === buffer.length ? buffer : buffer.subarray(0, count));
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
    destroy(error, callback) {
      close().then(
        () => callback(error),
        () => callback(error),
      );
    },
  });
}
