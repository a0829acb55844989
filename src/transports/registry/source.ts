import type { Readable } from "node:stream";
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
import type { Source, SourceImage } from "../../types/transport.js";
import type { RegistryClient } from "./client.js";
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
 * by the engine. Blobs come through the session's download cache: `prefetch` queues them
 * (bounded, ahead of a one-blob-at-a-time sink) and `openBlob` streams the verified cache file.
 */
export class RegistrySource implements Source {
  readonly label: string;
  readonly reference: Reference;
  /** Foreign layers left out under --skip-foreign (for the summary). */
  readonly omitted: Descriptor[] = [];
  private readonly name: string;
  private readonly manifests = new Map<string, Buffer>();
  private resolved: Promise<SourceImage[]> | undefined;

  constructor(
    private readonly session: RegistrySession,
    reference: string | Reference,
    private readonly options: RegistrySourceOptions = {},
  ) {
    this.reference = typeof reference === "string" ? parseReference(reference) : reference;
    this.name = formatReference(this.reference);
    this.label = `docker://${this.name}`;
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

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    await this.session.ensureBlob({
      client: await this.client(),
      repository: this.reference.repository,
      descriptor,
      what: `blob ${descriptor.digest} of ${this.name}`,
      urgent: true,
    });
    return this.session.cache.openRead(descriptor);
  }

  /** Engine hook: start downloading the blobs the copy will open, in its order. */
  prefetch(descriptors: Descriptor[]): void {
    void this.client()
      .then((client) => {
        for (const descriptor of descriptors) {
          this.session
            .ensureBlob({
              client,
              repository: this.reference.repository,
              descriptor,
              what: `blob ${descriptor.digest} of ${this.name}`,
            })
            .catch(() => {
              // reported when the engine opens the blob
            });
        }
      })
      .catch(() => {});
  }

  /** Engine hook: foreign layers are left out under --skip-foreign. */
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
