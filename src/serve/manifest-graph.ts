/**
 * The manifests one view of the store holds, walked from index.json's entries: what each index
 * names, and which manifests point at another through `subject` (OCI 1.1 referrers:
 * signatures, SBOMs, attestations). Built once per view, when a request first needs it (a
 * manifest by digest, the referrers API); a manifest's facts come from its bytes, checked
 * against its digest, and are kept across views (content-addressed: they never change).
 */

import type { Descriptor } from "../types/descriptor.js";
import type { Digest } from "../types/digest.js";
import { parseManifest } from "../types/manifest.js";
import { isIndexMediaType, isManifestMediaType } from "../types/media-types.js";
import type { StoreReader } from "./store-reader.js";

/** What ferry serve needs to know about one manifest or index. */
export interface ManifestFacts {
  /** The document's own mediaType, else the one of the first descriptor that named it. */
  mediaType: string;
  size: number;
  /** For an index: the manifests it names. */
  children: Descriptor[];
  /** The manifest this one refers to (OCI 1.1 `subject`). */
  subject?: Digest;
  /** `artifactType`, else (a manifest) its config's mediaType. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** At most this many manifests' facts are remembered between views. */
const FACTS_KEPT = 50_000;
/** Manifests read at once while walking. */
const READS_AT_ONCE = 8;

/** The facts of every manifest read so far, by digest (content-addressed: never stale). */
export class FactsCache {
  private readonly facts = new Map<Digest, ManifestFacts>();

  get(digest: Digest): ManifestFacts | undefined {
    return this.facts.get(digest);
  }

  set(digest: Digest, facts: ManifestFacts): void {
    if (this.facts.size >= FACTS_KEPT) this.facts.clear();
    this.facts.set(digest, facts);
  }
}

function factsOf(bytes: Buffer, descriptor: Descriptor): ManifestFacts {
  const parsed = parseManifest(bytes, descriptor.mediaType, `manifest ${descriptor.digest}`);
  const facts: ManifestFacts = { mediaType: parsed.mediaType, size: bytes.length, children: [] };
  const document = parsed.kind === "index" ? parsed.index : parsed.manifest;
  if (parsed.kind === "index") facts.children = parsed.index.manifests;
  const subject = document.subject?.digest;
  if (typeof subject === "string") facts.subject = subject;
  const artifactType =
    document.artifactType ??
    (parsed.kind === "manifest" ? parsed.manifest.config.mediaType : undefined);
  if (typeof artifactType === "string") facts.artifactType = artifactType;
  if (document.annotations) facts.annotations = document.annotations;
  return facts;
}

/** What went wrong reading one manifest while walking (the walk goes on without it). */
export interface WalkProblem {
  digest: Digest;
  error: unknown;
}

/** The manifests of one view of the store, and who refers to whom. */
export class ManifestGraph {
  private readonly referrers = new Map<Digest, Digest[]>();
  private readonly byRepository = new Map<string, Map<Digest, ManifestFacts>>();

  private constructor(
    private readonly nodes: Map<Digest, ManifestFacts>,
    /** Manifests that could not be read (missing: a concurrent rmi + gc; damaged). */
    readonly problems: WalkProblem[],
  ) {
    for (const [digest, facts] of nodes) {
      if (facts.subject === undefined) continue;
      const list = this.referrers.get(facts.subject) ?? [];
      list.push(digest);
      this.referrers.set(facts.subject, list);
    }
  }

  /** Walk every manifest reachable from `roots` (index.json's entries). */
  static async build(
    roots: Descriptor[],
    reader: StoreReader,
    cache: FactsCache,
  ): Promise<ManifestGraph> {
    const nodes = new Map<Digest, ManifestFacts>();
    const problems: WalkProblem[] = [];
    const seen = new Set<Digest>();
    let pending = roots.filter((d) => {
      if (seen.has(d.digest)) return false;
      seen.add(d.digest);
      return true;
    });
    while (pending.length > 0) {
      const batch = pending.slice(0, READS_AT_ONCE);
      pending = pending.slice(READS_AT_ONCE);
      const read = await Promise.all(
        batch.map(async (descriptor) => {
          try {
            return { descriptor, facts: await ManifestGraph.read(descriptor, reader, cache) };
          } catch (error) {
            problems.push({ digest: descriptor.digest, error });
            return { descriptor, facts: undefined };
          }
        }),
      );
      for (const { descriptor, facts } of read) {
        if (facts === undefined) continue;
        nodes.set(descriptor.digest, facts);
        for (const child of facts.children) {
          if (seen.has(child.digest)) continue;
          if (!isIndexMediaType(child.mediaType) && !isManifestMediaType(child.mediaType)) continue;
          seen.add(child.digest);
          pending.push(child);
        }
      }
    }
    return new ManifestGraph(nodes, problems);
  }

  private static async read(
    descriptor: Descriptor,
    reader: StoreReader,
    cache: FactsCache,
  ): Promise<ManifestFacts> {
    const known = cache.get(descriptor.digest);
    if (known) return known;
    const bytes = await reader.manifestBytes(descriptor.digest, descriptor.size);
    if (bytes === undefined) throw new Error(`manifest ${descriptor.digest} is missing`);
    const facts = factsOf(bytes, descriptor);
    cache.set(descriptor.digest, facts);
    return facts;
  }

  /**
   * The manifests a repository holds, by digest: its index.json entries, what their indexes
   * name, and what refers to any of them (a signature of an SBOM of an image included).
   */
  manifestsOf(repository: string, roots: Descriptor[]): Map<Digest, ManifestFacts> {
    const known = this.byRepository.get(repository);
    if (known) return known;
    const held = new Map<Digest, ManifestFacts>();
    const pending = roots.map((d) => d.digest);
    while (pending.length > 0) {
      const digest = pending.pop() as Digest;
      if (held.has(digest)) continue;
      const facts = this.nodes.get(digest);
      if (facts === undefined) continue;
      held.set(digest, facts);
      for (const child of facts.children) pending.push(child.digest);
      for (const referrer of this.referrers.get(digest) ?? []) pending.push(referrer);
    }
    this.byRepository.set(repository, held);
    return held;
  }

  /** The descriptors of the manifests whose `subject` is `digest`, sorted by digest. */
  referrersOf(digest: Digest): Descriptor[] {
    return (this.referrers.get(digest) ?? [])
      .slice()
      .sort()
      .map((referrer) => {
        const facts = this.nodes.get(referrer) as ManifestFacts;
        const descriptor: Descriptor = {
          mediaType: facts.mediaType,
          digest: referrer,
          size: facts.size,
        };
        if (facts.artifactType !== undefined) descriptor.artifactType = facts.artifactType;
        if (facts.annotations !== undefined) descriptor.annotations = facts.annotations;
        return descriptor;
      });
  }
}
