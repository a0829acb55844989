/**
 * What a registry says is attached to a manifest, for one repository: OCI 1.1 referrers
 * through the referrers API (`GET /v2/NAME/referrers/DIGEST`) where the registry offers it,
 * else the referrers tag schema's index (`sha256-<hex>`), and cosign's tags
 * (`sha256-<hex>.sig`, `.att`, `.sbom`).
 *
 * Cost: each digest is asked about once. Whether the registry has the API is learnt from the
 * first digest (a registry with it never answers 404, OCI distribution spec); without it no
 * other digest asks again. The repository's tags are listed once, so tags that do not exist
 * are never requested; where listing is refused, each tag is asked for instead. A registry
 * that answers 4xx to any of this (no API, tags not listable, tag absent) has nothing attached
 * as far as ferry can tell: that is no error.
 */

import { sha256Digest } from "../../digest/sha256.js";
import { IntegrityError } from "../../errors.js";
import {
  type AttachedCandidate,
  COSIGN_SUFFIXES,
  type CosignSuffix,
  cosignTag,
  referrersTag,
} from "../../types/attached.js";
import type { Descriptor } from "../../types/descriptor.js";
import { type Digest, isDigest } from "../../types/digest.js";
import { parseManifest } from "../../types/manifest.js";
import { isIndexMediaType, isManifestMediaType, MediaType } from "../../types/media-types.js";
import { repositoryScope } from "./auth.js";
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type RegistryClient } from "./client.js";
import { RegistryError } from "./errors.js";
import { headerValue } from "./http.js";
import { nextPageUrl } from "./link-header.js";

const MAX_REFERRERS_PAGE_BYTES = 16 * 1024 * 1024;
const MAX_REFERRERS_PAGES = 100;
/** Statuses that mean "nothing here, or not for you to know": no error. */
const NOTHING_HERE = [400, 401, 403, 404, 405, 406, 501];

export interface AttachedDiscoveryOptions {
  client: () => Promise<RegistryClient>;
  repository: string;
  /** The image, for messages: `host/repo:tag`. */
  name: string;
  /** A manifest fetched by tag here (checked against its digest), for the planner to reuse. */
  keep: (digest: Digest, bytes: Buffer) => void;
}

/** A manifest fetched by tag: its bytes and what the registry said about them. */
interface TaggedManifest {
  bytes: Buffer;
  contentType?: string;
}

/** Finds what is attached to manifests of one repository (see the module comment). */
export class AttachedDiscovery {
  private apiSupport: Promise<boolean> | undefined;
  private tags: Promise<Set<string> | undefined> | undefined;
  private readonly asked = new Map<string, Promise<AttachedCandidate[]>>();

  constructor(private readonly options: AttachedDiscoveryOptions) {}

  /** What is attached to `subject` (asked once per digest). */
  find(subject: Digest): Promise<AttachedCandidate[]> {
    let found = this.asked.get(subject);
    if (!found) {
      found = this.discover(subject);
      this.asked.set(subject, found);
    }
    return found;
  }

  private async discover(subject: Digest): Promise<AttachedCandidate[]> {
    const client = await this.options.client();
    const found = (await this.viaApi(client, subject)) ?? (await this.viaTag(client, subject));
    for (const suffix of Object.keys(COSIGN_SUFFIXES) as CosignSuffix[]) {
      const tag = cosignTag(subject, suffix);
      const manifest = await this.fetchTag(client, tag);
      if (!manifest) continue;
      const descriptor = this.descriptorOf(client, tag, manifest);
      found.push({ descriptor, subject, foundBy: "cosign-tag", tag });
    }
    return found.filter(
      (c, at) => found.findIndex((o) => o.descriptor.digest === c.descriptor.digest) === at,
    );
  }

  /** The referrers API's answer; undefined when the registry does not offer the API. */
  private async viaApi(
    client: RegistryClient,
    subject: Digest,
  ): Promise<AttachedCandidate[] | undefined> {
    if (!this.apiSupport) {
      // The first digest tells whether the API is there; the others wait for that answer.
      const first = this.queryReferrers(client, subject);
      this.apiSupport = first.then(
        (list) => list !== undefined,
        () => false,
      );
      return first;
    }
    if (!(await this.apiSupport)) return undefined;
    return (await this.queryReferrers(client, subject)) ?? [];
  }

  private async queryReferrers(
    client: RegistryClient,
    subject: Digest,
  ): Promise<AttachedCandidate[] | undefined> {
    const { repository, name } = this.options;
    const what = `referrers of ${subject} in ${client.registry}/${repository} (for ${name})`;
    const found: AttachedCandidate[] = [];
    let next: string | undefined = `/v2/${repository}/referrers/${subject}`;
    for (let page = 0; next && page < MAX_REFERRERS_PAGES; page++) {
      const { response, bytes } = await client.fetchSmall(
        {
          path: next,
          headers: { Accept: MediaType.OciIndex },
          scopes: [repositoryScope(repository)],
          what,
          acceptStatus: NOTHING_HERE,
        },
        MAX_REFERRERS_PAGE_BYTES,
      );
      if (response.status >= 300) return page === 0 ? undefined : found;
      let parsed: ReturnType<typeof parseManifest>;
      try {
        parsed = parseManifest(bytes, MediaType.OciIndex, what);
      } catch {
        // Not an index (a web page answering every path): no referrers API here.
        return page === 0 ? undefined : found;
      }
      if (parsed.kind !== "index") return page === 0 ? undefined : found;
      for (const descriptor of parsed.index.manifests) {
        found.push({ descriptor: listed(descriptor), subject, foundBy: "referrers-api" });
      }
      const link = headerValue(response.headers, "link");
      next = link ? nextPageUrl(link, response.url) : undefined;
    }
    return found;
  }

  /** The referrers tag schema: the index tagged `sha256-<hex>`, when there is one. */
  private async viaTag(client: RegistryClient, subject: Digest): Promise<AttachedCandidate[]> {
    const tag = referrersTag(subject);
    const manifest = await this.fetchTag(client, tag);
    if (!manifest) return [];
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(manifest.bytes, MediaType.OciIndex, this.whatTag(client, tag));
    } catch {
      return []; // a tag of that name that is no index: not a referrers list
    }
    if (parsed.kind !== "index") return [];
    return parsed.index.manifests.map((descriptor) => ({
      descriptor: listed(descriptor),
      subject,
      foundBy: "referrers-tag" as const,
    }));
  }

  private whatTag(client: RegistryClient, tag: string): string {
    return `tag ${tag} of ${client.registry}/${this.options.repository} (for ${this.options.name})`;
  }

  /** Every tag of the repository, listed once; undefined when the registry will not list them. */
  private tagList(client: RegistryClient): Promise<Set<string> | undefined> {
    this.tags ??= client.listTags(this.options.repository).then(
      (tags) => new Set(tags),
      (error: unknown) => {
        if (error instanceof RegistryError) return undefined;
        throw error;
      },
    );
    return this.tags;
  }

  /** A manifest by tag; undefined when the tag does not exist (or may not be read). */
  private async fetchTag(client: RegistryClient, tag: string): Promise<TaggedManifest | undefined> {
    const tags = await this.tagList(client);
    if (tags && !tags.has(tag)) return undefined;
    const { repository } = this.options;
    const what = this.whatTag(client, tag);
    const { response, bytes } = await client.fetchSmall(
      {
        path: `/v2/${repository}/manifests/${tag}`,
        headers: { Accept: MANIFEST_ACCEPT },
        scopes: [repositoryScope(repository)],
        what,
        acceptStatus: NOTHING_HERE,
      },
      MAX_MANIFEST_BYTES,
    );
    if (response.status >= 300) return undefined;
    const digest = sha256Digest(bytes);
    const claimed = headerValue(response.headers, "docker-content-digest")?.trim();
    if (claimed && isDigest(claimed) && claimed !== digest) {
      throw new IntegrityError(what, claimed, digest, {
        hint: "the bytes received are not the ones the registry named (a proxy changing them?): nothing was saved",
        details: { digest: claimed },
      });
    }
    const manifest: TaggedManifest = { bytes };
    const contentType = headerValue(response.headers, "content-type")?.split(";")[0]?.trim();
    if (contentType) manifest.contentType = contentType;
    return manifest;
  }

  /** The descriptor of a manifest fetched by tag: its digest is the sha256 of the bytes. */
  private descriptorOf(client: RegistryClient, tag: string, manifest: TaggedManifest): Descriptor {
    const type = manifest.contentType;
    const declared = isManifestMediaType(type) || isIndexMediaType(type) ? type : undefined;
    const parsed = parseManifest(manifest.bytes, declared, this.whatTag(client, tag));
    const digest = sha256Digest(manifest.bytes);
    this.options.keep(digest, manifest.bytes);
    return { mediaType: parsed.mediaType, digest, size: manifest.bytes.length };
  }
}

/** A referrers list entry as the planner needs it (no platform or annotations). */
function listed(descriptor: Descriptor): Descriptor {
  const { mediaType, digest, size, artifactType } = descriptor;
  return artifactType ? { mediaType, digest, size, artifactType } : { mediaType, digest, size };
}
