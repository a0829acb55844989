/**
 * Recreate on a registry the names by which attached artifacts are found, after their
 * manifests were pushed by digest:
 *
 * - cosign's tags (`sha256-<hex>.sig`, `.att`, `.sbom`), each derived from the subject's
 *   digest (never a name taken from a bundle). A tag already there is kept when it points at
 *   the same manifest; one holding other signatures (a site's own, say) is merged: the
 *   manifest there with the carried layers it lacks appended, as cosign appends signatures.
 * - referrers of a subject (manifests with `subject`): a registry with the referrers API
 *   indexed them when they were pushed; on one without it, the referrers tag schema's index
 *   `sha256-<hex>` is written, or merged with the one there (never dropping an entry).
 */

import { sha256Digest } from "../../digest/sha256.js";
import { FerryError } from "../../errors.js";
import { type AttachedArtifact, cosignSuffixOf, referrersTag } from "../../types/attached.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { Digest } from "../../types/digest.js";
import { type ImageIndex, type ImageManifest, parseManifest } from "../../types/manifest.js";
import { MediaType } from "../../types/media-types.js";
import { pushScope } from "./auth.js";
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type RegistryClient } from "./client.js";
import { headerValue } from "./http.js";
import { putManifest } from "./manifest-push.js";

/** A layer of a cosign manifest as one signature: its digest and its annotations. */
function layerIdentity(layer: Descriptor): string {
  const annotations = Object.entries(layer.annotations ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([layer.digest, annotations]);
}

/** What happened to one tag: written, already right, or merged with what was there. */
export type AttachedTagStatus = "new" | "unchanged" | "merged" | "indexed-by-registry";

export interface AttachedTagResult {
  /** `host/repo:sha256-<hex>.sig`, or for referrers indexed by the registry its `@subject`. */
  target: string;
  /** What the tag points at after the push. */
  digest: string;
  status: AttachedTagStatus;
  kind: "cosign-tag" | "referrers-tag" | "referrers-api";
}

/** A manifest as the registry has it under a tag, read once. */
interface Current {
  bytes: Buffer;
  digest: Digest;
  doc: Record<string, unknown>;
}

/** Writes the tags of attached artifacts into one registry (per repository). */
export class AttachedTagWriter {
  private readonly apiSupport = new Map<string, Promise<boolean>>();

  constructor(
    private readonly client: RegistryClient,
    /** The bytes of a carried manifest (pushed by digest already). */
    private readonly bytesOf: (digest: string) => Buffer | undefined,
  ) {}

  /** Recreate the cosign tags and referrers of `attached` in `repository`. */
  async write(repository: string, attached: AttachedArtifact[]): Promise<AttachedTagResult[]> {
    const results: AttachedTagResult[] = [];
    for (const record of attached) {
      if (record.foundBy !== "cosign-tag" || !record.tag) continue;
      results.push(await this.writeCosignTag(repository, record));
    }
    const bySubject = new Map<Digest, AttachedArtifact[]>();
    for (const record of attached) {
      if (record.foundBy !== "referrers-api" && record.foundBy !== "referrers-tag") continue;
      bySubject.set(record.subject, [...(bySubject.get(record.subject) ?? []), record]);
    }
    for (const [subject, records] of bySubject) {
      results.push(await this.writeReferrers(repository, subject, records));
    }
    return results;
  }

  private where(repository: string, reference: string): string {
    const separator = reference.startsWith("sha256:") ? "@" : ":";
    return `${this.client.registry}/${repository}${separator}${reference}`;
  }

  private carried(record: Pick<AttachedArtifact, "digest">): Buffer {
    const bytes = this.bytesOf(record.digest);
    if (!bytes) {
      throw new FerryError(
        "EINTERNAL",
        `the bytes of attached manifest ${record.digest} are unknown to the push`,
      );
    }
    return bytes;
  }

  /** The manifest a tag points at now, or undefined when the tag does not exist. */
  private async current(repository: string, tag: string): Promise<Current | undefined> {
    const what = `tag ${this.where(repository, tag)}`;
    const { response, bytes } = await this.client.fetchSmall(
      {
        path: `/v2/${repository}/manifests/${tag}`,
        headers: { Accept: MANIFEST_ACCEPT },
        scopes: [pushScope(repository)],
        what,
        acceptStatus: [404],
      },
      MAX_MANIFEST_BYTES,
    );
    if (response.status === 404) return undefined;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    } catch {
      doc = {};
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) doc = {};
    return { bytes, digest: sha256Digest(bytes), doc };
  }

  private async put(repository: string, tag: string, mediaType: string, bytes: Buffer) {
    await putManifest(
      this.client,
      repository,
      tag,
      { mediaType, digest: sha256Digest(bytes) },
      bytes,
      `tag ${this.where(repository, tag)}`,
    );
  }

  private async writeCosignTag(
    repository: string,
    record: AttachedArtifact,
  ): Promise<AttachedTagResult> {
    // Derived again here, not trusted from the record: only cosign's name for the subject.
    const tag = record.tag && cosignSuffixOf(record.tag, record.subject) ? record.tag : undefined;
    if (!tag) {
      throw new FerryError(
        "EINTERNAL",
        `attached ${record.digest}: ${JSON.stringify(record.tag)} is not cosign's tag for ${record.subject}`,
      );
    }
    const target = this.where(repository, tag);
    const ours = this.carried(record);
    const current = await this.current(repository, tag);
    const result = (digest: string, status: AttachedTagStatus): AttachedTagResult => ({
      target,
      digest,
      status,
      kind: "cosign-tag",
    });
    if (!current) {
      await this.put(repository, tag, record.mediaType, ours);
      return result(record.digest, "new");
    }
    if (current.digest === record.digest) return result(record.digest, "unchanged");
    const layers = Array.isArray(current.doc.layers) ? (current.doc.layers as Descriptor[]) : null;
    const oursDoc = parseManifest(ours, record.mediaType, `attached ${record.digest}`);
    const ourTypes = new Set(
      oursDoc.kind === "manifest" ? oursDoc.manifest.layers.map((l) => l.mediaType) : [],
    );
    // Merged only into the same kind of thing: every layer there of a type the carried one has
    // (cosign's simple-signing payloads for .sig); anything else is never overwritten.
    if (
      !layers ||
      oursDoc.kind !== "manifest" ||
      !layers.every((l) => typeof l === "object" && l !== null && ourTypes.has(l.mediaType))
    ) {
      throw new FerryError(
        "EREGISTRY",
        `${target} holds something that is not a cosign ${record.kind} manifest (${current.digest}); ferry does not overwrite it`,
        {
          hint: "move that tag aside on the registry, then push again (the image's tag was not moved; what was pushed by digest is not sent again)",
          details: { tag: target, digest: current.digest },
        },
      );
    }
    // One signature is a layer and its annotations: two keys signing the same payload give
    // layers of the same digest that differ in their signature annotation.
    const known = new Set(layers.map(layerIdentity));
    const added = oursDoc.manifest.layers.filter((l) => !known.has(layerIdentity(l)));
    if (added.length === 0) return result(current.digest, "unchanged");
    const merged: ImageManifest = {
      ...(current.doc as unknown as ImageManifest),
      layers: [...layers, ...added],
    };
    const bytes = Buffer.from(JSON.stringify(merged));
    const mediaType =
      typeof current.doc.mediaType === "string" ? current.doc.mediaType : record.mediaType;
    await this.put(repository, tag, mediaType, bytes);
    return result(sha256Digest(bytes), "merged");
  }

  /** Whether the registry answers the referrers API in this repository (asked once). */
  private supportsApi(repository: string, subject: Digest): Promise<boolean> {
    let support = this.apiSupport.get(repository);
    if (!support) {
      support = this.client
        .fetchSmall(
          {
            path: `/v2/${repository}/referrers/${subject}`,
            headers: { Accept: MediaType.OciIndex },
            scopes: [pushScope(repository)],
            what: `referrers of ${this.where(repository, subject)}`,
            acceptStatus: [400, 401, 403, 404, 405, 406, 501],
          },
          MAX_MANIFEST_BYTES,
        )
        .then(({ response, bytes }) => {
          if (response.status >= 300) return false;
          const type = headerValue(response.headers, "content-type")?.split(";")[0]?.trim();
          if (type && type !== MediaType.OciIndex && type !== "application/json") return false;
          try {
            return parseManifest(bytes, MediaType.OciIndex, "referrers").kind === "index";
          } catch {
            return false;
          }
        });
      this.apiSupport.set(repository, support);
    }
    return support;
  }

  private async writeReferrers(
    repository: string,
    subject: Digest,
    records: AttachedArtifact[],
  ): Promise<AttachedTagResult> {
    if (await this.supportsApi(repository, subject)) {
      // The registry indexed each manifest with a subject as it was pushed.
      return {
        target: this.where(repository, subject),
        digest: subject,
        status: "indexed-by-registry",
        kind: "referrers-api",
      };
    }
    const tag = referrersTag(subject);
    const target = this.where(repository, tag);
    const current = await this.current(repository, tag);
    const existing = current ? (current.doc.manifests as unknown) : [];
    if (current && !Array.isArray(existing)) {
      throw new FerryError(
        "EREGISTRY",
        `${target} holds something that is not a referrers index (${current.digest}); ferry does not overwrite it`,
        {
          hint: "move that tag aside on the registry, then push again (the image's tag was not moved; what was pushed by digest is not sent again)",
        },
      );
    }
    const entries = existing as Descriptor[];
    if (
      !entries.every((d) => typeof d === "object" && d !== null && typeof d.digest === "string")
    ) {
      throw new FerryError(
        "EREGISTRY",
        `${target} is a referrers index with malformed entries (${current?.digest}); ferry does not overwrite it`,
        {
          hint: "move that tag aside on the registry, then push again (the image's tag was not moved; what was pushed by digest is not sent again)",
        },
      );
    }
    const known = new Set(entries.map((d) => d.digest));
    const added = records.filter((r) => !known.has(r.digest)).map((r) => this.referrerEntry(r));
    if (current && added.length === 0) {
      return { target, digest: current.digest, status: "unchanged", kind: "referrers-tag" };
    }
    const index: ImageIndex = current
      ? { ...(current.doc as unknown as ImageIndex), manifests: [...entries, ...added] }
      : { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: added };
    const bytes = Buffer.from(JSON.stringify(index));
    await this.put(repository, tag, MediaType.OciIndex, bytes);
    const status = current ? "merged" : "new";
    return { target, digest: sha256Digest(bytes), status, kind: "referrers-tag" };
  }

  /** A referrers list entry (OCI distribution spec): artifactType and the manifest's annotations. */
  private referrerEntry(record: AttachedArtifact): Descriptor {
    const entry: Descriptor = {
      mediaType: record.mediaType,
      digest: record.digest,
      size: record.size,
    };
    if (record.artifactType) entry.artifactType = record.artifactType;
    const parsed = parseManifest(this.carried(record), record.mediaType, record.digest);
    const annotations =
      parsed.kind === "manifest" ? parsed.manifest.annotations : parsed.index.annotations;
    if (annotations && Object.keys(annotations).length > 0) entry.annotations = annotations;
    return entry;
  }
}
