/**
 * One consistent view of the store for one request: index.json read once (a load replaces it
 * by a rename, so a read sees the old file or the new one, never a mix), its entries grouped
 * by repository. A view is kept while index.json's bytes stay the same (compared by sha256),
 * so the manifest walk a view builds is shared by the requests that see those bytes.
 */

import { sha256Digest } from "../digest/sha256.js";
import { parseLayoutIndex } from "../transports/layout/index-file.js";
import { imageNameOf } from "../transports/layout/source.js";
import type { Descriptor } from "../types/descriptor.js";
import type { Digest } from "../types/digest.js";
import { parseReference } from "../types/reference.js";
import { DistributionError } from "./distribution-error.js";
import { type FactsCache, ManifestGraph } from "./manifest-graph.js";
import { NameMap, type StoredName, storedNameOf } from "./names.js";
import type { StoreReader } from "./store-reader.js";

/** What stored images without a full name are called (as `ferry images` calls them). */
const UNNAMED_REPOSITORY = "localhost/unnamed";

/** One stored repository in a view. */
export interface RepositoryView {
  name: StoredName;
  /** index.json's entries of this repository, tagged or named by digest. */
  roots: Descriptor[];
  tags: Map<string, Descriptor>;
}

export class StoreSnapshot {
  readonly repositories = new Map<string, RepositoryView>();
  readonly names: NameMap;
  private graphPromise: Promise<ManifestGraph> | undefined;

  constructor(
    /** The sha256 of the index.json bytes this view was made from. */
    readonly key: Digest,
    readonly entries: Descriptor[],
    private readonly reader: StoreReader,
    private readonly facts: FactsCache,
  ) {
    for (const descriptor of entries) {
      const reference = imageNameOf(descriptor, UNNAMED_REPOSITORY);
      const name = storedNameOf(reference);
      if (name === undefined) continue;
      let repository = this.repositories.get(name.full);
      if (repository === undefined) {
        repository = { name, roots: [], tags: new Map() };
        this.repositories.set(name.full, repository);
      }
      repository.roots.push(descriptor);
      const tag = parseReference(reference, { defaultTag: false }).tag;
      if (tag !== undefined) repository.tags.set(tag, descriptor);
    }
    this.names = new NameMap([...this.repositories.values()].map((r) => r.name));
  }

  /** The repository a client's NAME means, or NAME_UNKNOWN. */
  repository(name: string): RepositoryView {
    const resolved = this.names.resolve(name);
    if (resolved.kind === "found") {
      return this.repositories.get(resolved.full) as RepositoryView;
    }
    if (resolved.kind === "ambiguous") {
      throw new DistributionError(
        "NAME_UNKNOWN",
        `repository name is ambiguous: the store holds ${resolved.candidates.join(" and ")}; ask for the full name`,
        { candidates: resolved.candidates },
      );
    }
    throw new DistributionError("NAME_UNKNOWN", "repository name not known to registry");
  }

  /** The catalog: one NAME per stored repository, sorted. */
  catalog(): string[] {
    const listed: string[] = [];
    for (const repository of this.repositories.values()) {
      const name = this.names.catalogName(repository.name);
      if (name !== undefined) listed.push(name);
    }
    return listed.sort();
  }

  /** Every manifest of the view, walked once (on first use). */
  graph(): Promise<ManifestGraph> {
    this.graphPromise ??= ManifestGraph.build(this.entries, this.reader, this.facts);
    return this.graphPromise;
  }
}

/** Hands each request the view of the store index.json gives now. */
export class SnapshotSource {
  private latest: StoreSnapshot | undefined;

  constructor(
    private readonly reader: StoreReader,
    private readonly facts: FactsCache,
  ) {}

  async current(): Promise<StoreSnapshot> {
    const bytes = await this.reader.indexBytes();
    const key = sha256Digest(bytes);
    if (this.latest?.key === key) return this.latest;
    const index = parseLayoutIndex(bytes, this.reader.store.dir);
    const snapshot = new StoreSnapshot(key, index.manifests, this.reader, this.facts);
    this.latest = snapshot;
    return snapshot;
  }
}
