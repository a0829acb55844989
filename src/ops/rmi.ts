/**
 * `ferry rmi`: remove names from the store (container image tags and Windows base OS images),
 * refuse to remove an OS image that container images in the store are built on, move the OS
 * image's `latest` tag to the newest version left, and reclaim the blobs nothing names anymore.
 * Everything happens under the store lock; index.json is replaced atomically, then garbage is
 * collected (a crash in between leaves only unreferenced blobs, which the next gc reclaims).
 */

import { planImage } from "../engine/plan.js";
import { FerryError, isFerryError } from "../errors.js";
import { refNameOf, removeRef, upsertRef } from "../transports/layout/index-file.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import {
  LATEST_TAG,
  type OsImageFacts,
  osImageRef,
  parseOsImageRef,
} from "../transports/wim/artifact.js";
import type { Descriptor } from "../types/descriptor.js";
import type { ImageIndex } from "../types/manifest.js";
import { formatPlatform, type Platform } from "../types/platform.js";
import { collectGarbageLocked, type GcReport } from "./gc.js";
import {
  canonicalOsVersion,
  displayName,
  newestOsVersion,
  readStoreEntries,
  resolveStoreRef,
  type StoreEntry,
} from "./wim-refs.js";

export interface RmiOptions {
  /** Remove OS images even while container images are built on them; untag shared digests. */
  force?: boolean;
  /** Reclaim freed blobs (default true). */
  prune?: boolean;
}

/** A container image in the store built on an OS image that is being removed. */
export interface Dependant {
  ref: string;
  /** The OS image it depends on (full ref). */
  base: string;
  /** Why: `windows/amd64:10.0.20348.2113 matches`, or a base annotation. */
  reason: string;
}

export interface RmiReport {
  store: string;
  /** Names removed from index.json. */
  untagged: Array<{ ref: string; digest: string; kind: "image" | "os-image" }>;
  /** Images whose last name went: their content is gone (or reclaimed by gc). */
  deleted: Array<{ digest: string; refs: string[]; kind: "image" | "os-image"; fullName?: string }>;
  /** `latest` tags moved to the newest version left (or removed when none is left). */
  latestMoved: Array<{ ref: string; from: string; to?: string; version?: string }>;
  /** Dependants that --force overrode. */
  forcedDependants: Dependant[];
  gc?: GcReport;
  /** Why blobs were not reclaimed, when gc failed (the names are removed all the same). */
  gcError?: string;
}

function kindOf(entry: StoreEntry): "image" | "os-image" {
  return entry.os ? "os-image" : "image";
}

/**
 * The names an argument removes. Naming an OS image by its version (or legacy full name)
 * removes the image: its version name and every other OS-image name of the same repository
 * pointing at it (`latest`). Any other name is removed alone, like `docker rmi` untags.
 */
function namesToRemove(
  entries: StoreEntry[],
  resolved: StoreEntry[],
  how: string,
  force: boolean,
): StoreEntry[] {
  const result = new Set<StoreEntry>(resolved);
  for (const entry of resolved) {
    const parts = parseOsImageRef(entry.ref);
    if (!entry.os || !parts || !canonicalOsVersion(entry.descriptor)) continue;
    for (const other of entries) {
      if (
        other.descriptor.digest === entry.descriptor.digest &&
        parseOsImageRef(other.ref)?.repository === parts.repository
      ) {
        result.add(other);
      }
    }
  }
  if (how === "digest") {
    const repositories = new Set(
      [...result].map((e) => {
        const parts = parseOsImageRef(e.ref);
        return parts ? parts.repository : e.ref.replace(/(:[\w][\w.-]*)?(@.*)?$/, "");
      }),
    );
    if (repositories.size > 1 && !force) {
      throw new FerryError(
        "EREFUSED",
        `${resolved[0]?.descriptor.digest} is named in ${repositories.size} repositories: ${[...result].map((e) => displayName(e.ref)).join(", ")}`,
        { hint: "remove the names one by one, or use --force to remove them all" },
      );
    }
  }
  return [...result];
}

function sameArchitecture(a: string, b: string): boolean {
  const norm = (x: string) => (x === "x86_64" || x === "x86-64" ? "amd64" : x.toLowerCase());
  return a === "unknown" || b === "unknown" || norm(a) === norm(b);
}

function builtOn(platform: Platform, base: OsImageFacts): boolean {
  return (
    platform.os.toLowerCase() === "windows" &&
    platform["os.version"] === base.version &&
    sameArchitecture(platform.architecture, base.architecture)
  );
}

const BASE_NAME = "org.opencontainers.image.base.name";
const BASE_DIGEST = "org.opencontainers.image.base.digest";

/** A base annotation (OCI image spec) on one of the image's manifests that names `base`. */
function provenanceNames(
  bytes: Buffer,
  base: OsImageFacts,
  baseDigest: string,
): string | undefined {
  let annotations: Record<string, unknown> | undefined;
  try {
    annotations = (JSON.parse(bytes.toString("utf8")) as { annotations?: Record<string, unknown> })
      .annotations;
  } catch {
    return undefined;
  }
  const name = annotations?.[BASE_NAME];
  const digest = annotations?.[BASE_DIGEST];
  if (digest === baseDigest) return `${BASE_DIGEST} is ${baseDigest}`;
  if (typeof name !== "string") return undefined;
  const wanted = [base.ref, `${base.repository}:${base.version}`, base.fullName].map((n) =>
    n.toLowerCase(),
  );
  return wanted.includes(name.toLowerCase()) ? `${BASE_NAME} is ${name}` : undefined;
}

/** Container images left in `index` that are built on one of `bases` (digest → facts). */
async function findDependants(
  store: Store,
  index: ImageIndex,
  bases: Map<string, OsImageFacts>,
): Promise<Dependant[]> {
  if (bases.size === 0) return [];
  const source = await LayoutSource.open(store.files, {
    transport: "store",
    fallbackRepository: "localhost/unnamed",
    allowEmpty: true,
  });
  const remaining = new Set(index.manifests.map((d) => refNameOf(d)));
  const dependants: Dependant[] = [];
  for (const image of await source.images()) {
    const ref = refNameOf(image.descriptor);
    if (!ref || !remaining.has(ref) || bases.has(image.descriptor.digest)) continue;
    let plan: Awaited<ReturnType<typeof planImage>>;
    try {
      plan = await planImage(source, image, { platforms: "all" });
    } catch {
      continue; // a damaged image (ferry check reports it) depends on nothing we can tell
    }
    for (const [digest, base] of bases) {
      if (plan.manifests.some((m) => m.descriptor.digest === digest)) continue; // the OS image
      const platform = plan.platforms.find((p) => builtOn(p, base));
      const provenance = plan.manifests
        .map((m) => provenanceNames(m.bytes, base, digest))
        .find(Boolean);
      if (platform || provenance) {
        dependants.push({
          ref,
          base: base.ref,
          reason: platform ? `${formatPlatform(platform)} matches` : (provenance as string),
        });
      }
    }
  }
  return dependants;
}

function describeDependants(dependants: Dependant[]): string {
  const byBase = new Map<string, Dependant[]>();
  for (const d of dependants) byBase.set(d.base, [...(byBase.get(d.base) ?? []), d]);
  return [...byBase]
    .map(
      ([base, list]) =>
        `${displayName(base)} is the base of ${list.length} image(s) in the store: ${list
          .map((d) => `${displayName(d.ref)} (${d.reason})`)
          .join(", ")}`,
    )
    .join("; ");
}

/** Re-point each OS repository's `latest` (removed with its version) at the newest version left. */
function repointLatest(
  index: ImageIndex,
  removed: StoreEntry[],
  explicitlyNamed: Set<string>,
): { index: ImageIndex; moves: RmiReport["latestMoved"] } {
  const moves: RmiReport["latestMoved"] = [];
  let next = index;
  for (const entry of removed) {
    const parts = parseOsImageRef(entry.ref);
    if (!parts || parts.tag !== LATEST_TAG || explicitlyNamed.has(entry.ref)) continue;
    const newest: Descriptor | undefined = newestOsVersion(next, parts.repository);
    if (!newest) {
      moves.push({ ref: entry.ref, from: entry.descriptor.digest });
      continue;
    }
    const annotations = { ...newest.annotations };
    delete annotations["org.opencontainers.image.ref.name"];
    next = upsertRef(next, osImageRef(parts.repository, LATEST_TAG), newest, annotations).index;
    const move: RmiReport["latestMoved"][number] = {
      ref: entry.ref,
      from: entry.descriptor.digest,
      to: newest.digest,
    };
    const version = canonicalOsVersion(newest);
    if (version) move.version = version;
    moves.push(move);
  }
  return { index: next, moves };
}

/** Remove names (and, with their last name, images) from the store at `storeDir`. */
export async function removeImages(
  storeDir: string,
  inputs: string[],
  options: RmiOptions = {},
): Promise<RmiReport> {
  const store = await Store.open(storeDir);
  return store.withLock("removing images", async () => {
    const index = await store.readIndex();
    const entries = await readStoreEntries(store, index);
    const removing = new Set<StoreEntry>();
    const explicitlyNamed = new Set<string>();
    for (const input of inputs) {
      const resolution = resolveStoreRef(entries, input, store.dir);
      for (const entry of resolution.entries) explicitlyNamed.add(entry.ref);
      for (const entry of namesToRemove(
        entries,
        resolution.entries,
        resolution.how,
        Boolean(options.force),
      )) {
        removing.add(entry);
      }
    }
    let next = index;
    for (const entry of removing) next = removeRef(next, entry.ref);
    const stillNamed = new Set(next.manifests.map((d) => d.digest));
    const gone = new Map<string, StoreEntry[]>();
    for (const entry of removing) {
      if (stillNamed.has(entry.descriptor.digest)) continue;
      gone.set(entry.descriptor.digest, [...(gone.get(entry.descriptor.digest) ?? []), entry]);
    }
    const bases = new Map<string, OsImageFacts>();
    for (const [digest, list] of gone) {
      const os = list.find((e) => e.os)?.os;
      if (os) bases.set(digest, os);
    }
    const dependants = await findDependants(store, next, bases);
    if (dependants.length > 0 && !options.force) {
      throw new FerryError("EREFUSED", `refusing to remove: ${describeDependants(dependants)}`, {
        hint: "remove those images first, or use --force to remove the OS image anyway",
        details: { dependants },
      });
    }
    const repointed = repointLatest(next, [...removing], explicitlyNamed);
    next = repointed.index;
    await store.writeIndex(next);
    const report: RmiReport = {
      store: store.dir,
      untagged: [...removing]
        .filter((e) => !repointed.moves.some((m) => m.ref === e.ref && m.to))
        .map((e) => ({ ref: e.ref, digest: e.descriptor.digest, kind: kindOf(e) })),
      deleted: [...gone].map(([digest, list]) => {
        const os = list.find((e) => e.os)?.os;
        return {
          digest,
          refs: list.map((e) => e.ref),
          kind: os ? "os-image" : "image",
          ...(os ? { fullName: os.fullName } : {}),
        };
      }),
      latestMoved: repointed.moves,
      forcedDependants: dependants,
    };
    if (options.prune !== false) {
      try {
        report.gc = await collectGarbageLocked(store);
      } catch (error) {
        report.gcError = isFerryError(error) ? error.message : String(error);
      }
    }
    await store
      .appendLog({
        action: "rmi",
        time: new Date().toISOString(),
        inputs,
        force: Boolean(options.force),
        untagged: report.untagged.map((u) => u.ref),
        deleted: report.deleted.map((d) => d.digest),
      })
      .catch(() => {});
    return report;
  });
}
