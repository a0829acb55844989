/**
 * What `load` does for Windows base OS images: name each WIM artifact
 * `os.ferry.invalid/<name>:<version>` with its facts as index annotations, and point
 * `os.ferry.invalid/<name>:latest` at the newest installed version of each name.
 *
 * The facts come from each artifact's manifest, whose bytes the engine verified against the
 * digest ferry.json names; the per-image annotations in ferry.json are not trusted for them.
 */

import type { ImagePlan } from "../engine/plan.js";
import { refNameOf } from "../transports/layout/index-file.js";
import type { StoreSinkOptions, TagChange } from "../transports/layout/sink.js";
import {
  LATEST_TAG,
  type OsImageFacts,
  osImageFactsFromManifestBytes,
  osImageRecordAnnotations,
  osImageRef,
  osImageSummaryOf,
  parseOsImageRef,
} from "../transports/wim/artifact.js";
import type { ImageIndex } from "../types/manifest.js";
import { FerryAnnotation } from "../types/media-types.js";
import type { ImageRecord } from "../types/transport.js";
import type { OsImageSummary } from "../types/wim.js";
import { newestOsVersion } from "./wim-refs.js";

/** An OS image a load installed. */
export interface LoadedOsImage extends OsImageSummary {
  /** `os.ferry.invalid/nanoserver:10.0.14300.1010`. */
  ref: string;
  /** The artifact manifest digest. */
  digest: string;
  /** The .wim file's digest and size. */
  wim: string;
  size: number;
}

/** A `latest` tag a load moved. */
export interface LatestMove {
  ref: string;
  /** The version it points at now. */
  version: string;
  to: string;
  /** Where it pointed before, when it existed. */
  from?: string;
  fromVersion?: string;
}

export interface OsImageLoad {
  sinkOptions: Omit<StoreSinkOptions, "logEntry">;
  osImages(): LoadedOsImage[];
  latestMoved(changes: TagChange[]): LatestMove[];
}

function factsOfPlans(plans: ImagePlan[]): Map<string, OsImageFacts> {
  const facts = new Map<string, OsImageFacts>();
  for (const plan of plans) {
    const root = plan.manifests.find((m) => m.descriptor.digest === plan.root.digest);
    const os = root ? osImageFactsFromManifestBytes(root.bytes) : undefined;
    if (os) facts.set(plan.root.digest, os);
  }
  return facts;
}

/**
 * Store-sink options for a load's OS images (merged over `base`), and its report helpers.
 * `latest: false` leaves every `latest` tag where it is (`ferry load --no-latest`).
 */
export function osImageLoad(
  plans: ImagePlan[],
  options: { latest: boolean; base?: Omit<StoreSinkOptions, "logEntry"> },
): OsImageLoad {
  const facts = factsOfPlans(plans);
  const previousLatest = new Map<string, { digest: string; version?: string }>();
  const extraTags = (records: ImageRecord[], index: ImageIndex) => {
    const tags = [...(options.base?.extraTags?.(records, index) ?? [])];
    const repositories = new Set<string>();
    for (const record of records) {
      const os = facts.get(record.descriptor.digest);
      if (!os) continue;
      repositories.add(os.repository);
      if (record.name !== os.ref) tags.push({ ref: os.ref, record });
    }
    if (!options.latest) return tags;
    for (const repository of repositories) {
      const latestRef = osImageRef(repository, LATEST_TAG);
      const current = index.manifests.find((d) => refNameOf(d) === latestRef);
      if (current) {
        const version = current.annotations?.[FerryAnnotation.OsVersion];
        previousLatest.set(latestRef, { digest: current.digest, ...(version ? { version } : {}) });
      }
      // The names this load adds are in `index` already, so "newest" spans old and new.
      const newest = newestOsVersion(index, repository);
      const record = newest && records.find((r) => r.descriptor.digest === newest.digest);
      if (record) tags.push({ ref: latestRef, record });
    }
    return tags;
  };
  return {
    sinkOptions: {
      ...options.base,
      indexAnnotations: (record) => {
        const os = facts.get(record.descriptor.digest);
        return os ? osImageRecordAnnotations(os) : (options.base?.indexAnnotations?.(record) ?? {});
      },
      extraTags,
    },
    osImages: () =>
      [...facts.entries()].map(([digest, os]) => ({
        ref: os.ref,
        ...osImageSummaryOf(os),
        digest,
        wim: os.wim.digest,
        size: os.wim.size,
      })),
    latestMoved: (changes) =>
      changes.flatMap((change): LatestMove[] => {
        const parts = parseOsImageRef(change.ref);
        const os = facts.get(change.to);
        if (!parts || parts.tag !== LATEST_TAG || !os) return [];
        const move: LatestMove = { ref: change.ref, version: os.version, to: change.to };
        const before = previousLatest.get(change.ref);
        if (change.from) move.from = change.from;
        if (before?.version) move.fromVersion = before.version;
        return [move];
      }),
  };
}
