/**
 * The planner's second pass: what is attached to the manifests an image plan saves
 * (signatures, attestations, SBOMs), found through the source (`SourceCapabilities.attachedTo`:
 * a registry's referrers API, referrers tag and cosign tags; a bundle's or store's records),
 * then fetched and checked like any manifest (digest, size, shape, media type), recursively (a
 * signature on an SBOM), each digest asked about once, a few at a time.
 */

import { FerryError, isFerryError } from "../errors.js";
import {
  type AttachedArtifact,
  type AttachedCandidate,
  type AttachedSelection,
  artifactTypeOf,
  artifactTypesOf,
  attachedKindOf,
  buildxAttestationSubject,
  cosignSuffixOf,
  selectionKeeps,
} from "../types/attached.js";
import type { Descriptor } from "../types/descriptor.js";
import type { Digest } from "../types/digest.js";
import type { ParsedManifest } from "../types/manifest.js";
import { isIndexMediaType, isManifestMediaType } from "../types/media-types.js";
import type { Source } from "../types/transport.js";

/** Attached artifacts on attached artifacts, at most this deep (image <- SBOM <- signature: 2). */
const MAX_ATTACHED_DEPTH = 4;
/** Discovery requests and artifact fetches at once, per image. */
const DISCOVERY_CONCURRENCY = 4;

/** An attached artifact ferry found but did not carry, and why. */
export interface SkippedAttached {
  digest: string;
  subject: string;
  reason: string;
}

/** What the image plan gives this pass: how to fetch, walk and add what it finds. */
export interface AttachedPlanTarget {
  source: Source;
  name: string;
  /** Fetch a manifest, check digest, size, shape and media type. */
  fetch(descriptor: Descriptor, what: string): Promise<{ bytes: Buffer; parsed: ParsedManifest }>;
  /** Whether the plan holds this manifest already (the image's own, or an artifact met before). */
  hasManifest(digest: string): boolean;
  /** Add an artifact (its blobs, children and itself) to the plan. */
  addArtifact(descriptor: Descriptor, bytes: Buffer, parsed: ParsedManifest): Promise<void>;
  /** Count descriptors against the image's limit. */
  count(descriptors: number): void;
}

export interface AttachedPlan {
  attached: AttachedArtifact[];
  skipped: SkippedAttached[];
}

/** Run `work` over `items`, at most `limit` at once; results in the items' order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      const at = next++;
      try {
        results[at] = await work(items[at] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (rejected) throw rejected.reason;
  return results;
}

/** The artifact's manifest must name what it was found for. */
function relationProblem(candidate: AttachedCandidate, parsed: ParsedManifest): string | undefined {
  const subject =
    parsed.kind === "index" ? parsed.index.subject?.digest : parsed.manifest.subject?.digest;
  switch (candidate.foundBy) {
    case "referrers-api":
    case "referrers-tag":
      return subject === candidate.subject
        ? undefined
        : `its subject is ${subject ?? "missing"}, not ${candidate.subject}`;
    case "cosign-tag":
      return candidate.tag && cosignSuffixOf(candidate.tag, candidate.subject)
        ? undefined
        : `its tag ${JSON.stringify(candidate.tag)} is not cosign's tag for ${candidate.subject}`;
    case "buildx-attestation":
      return undefined;
  }
}

/**
 * Find, fetch and check what is attached to `subjects` (the image's manifests), then to what
 * was found, and so on. `preset` are attachments the plan found itself (buildx attestation
 * manifests in the image's index). `selection` narrows what is carried (`--attached TYPE`).
 */
export async function planAttached(
  target: AttachedPlanTarget,
  subjects: Digest[],
  preset: AttachedCandidate[],
  selection: AttachedSelection,
): Promise<AttachedPlan> {
  const discover = target.source.capabilities?.attachedTo;
  const plan: AttachedPlan = { attached: [], skipped: [] };
  const recorded = new Set<string>();
  const asked = new Set<string>();
  let frontier = subjects;
  for (let depth = 0; depth <= MAX_ATTACHED_DEPTH; depth++) {
    const fresh = frontier.filter((digest) => !asked.has(digest));
    for (const digest of fresh) asked.add(digest);
    const lists = discover
      ? await mapBounded(fresh, DISCOVERY_CONCURRENCY, (digest) => discover(digest))
      : [];
    const candidates: AttachedCandidate[] = [...(depth === 0 ? preset : []), ...lists.flat()];
    const unique = candidates.filter(
      (c, at) => candidates.findIndex((o) => o.descriptor.digest === c.descriptor.digest) === at,
    );
    const wanted = unique.filter((c) => !recorded.has(c.descriptor.digest));
    target.count(wanted.length);
    const fetched = await mapBounded(wanted, DISCOVERY_CONCURRENCY, (c) =>
      fetchCandidate(target, c, plan),
    );
    const next: Digest[] = [];
    for (const [at, candidate] of wanted.entries()) {
      const result = fetched[at];
      if (!result) continue;
      const { digest } = candidate.descriptor;
      if (recorded.has(digest)) continue;
      const types = artifactTypesOf(result.parsed);
      const kind = attachedKindOf(candidate.foundBy, candidate.tag, types);
      if (!selectionKeeps(selection, kind, types)) continue;
      const record: AttachedArtifact = {
        digest,
        mediaType: result.descriptor.mediaType,
        size: result.descriptor.size,
        subject: candidate.subject,
        foundBy: candidate.foundBy,
        kind,
      };
      const artifactType = artifactTypeOf(result.parsed);
      if (artifactType) record.artifactType = artifactType;
      if (candidate.tag) record.tag = candidate.tag;
      plan.attached.push(record);
      recorded.add(digest);
      if (!target.hasManifest(digest)) {
        await target.addArtifact(result.descriptor, result.bytes, result.parsed);
      }
      next.push(digest);
    }
    frontier = next;
    if (frontier.length === 0) break;
  }
  return plan;
}

/** Fetch and check one candidate; undefined when it is skipped (noted in `plan.skipped`). */
async function fetchCandidate(
  target: AttachedPlanTarget,
  candidate: AttachedCandidate,
  plan: AttachedPlan,
): Promise<{ descriptor: Descriptor; bytes: Buffer; parsed: ParsedManifest } | undefined> {
  const { descriptor, subject } = candidate;
  const skip = (reason: string) => {
    plan.skipped.push({ digest: descriptor.digest, subject, reason });
    return undefined;
  };
  if (!isManifestMediaType(descriptor.mediaType) && !isIndexMediaType(descriptor.mediaType)) {
    return skip(`media type ${descriptor.mediaType} is not an OCI or Docker manifest or index`);
  }
  const what = `attached artifact ${descriptor.digest} of ${target.name} (for ${subject})`;
  let fetched: { bytes: Buffer; parsed: ParsedManifest };
  try {
    fetched = await target.fetch(descriptor, what);
  } catch (error) {
    // Listed but gone (a referrers index naming a deleted manifest): nothing to carry.
    if (isFerryError(error) && error.code === "ENOTFOUND") return skip("not found at the source");
    throw error;
  }
  const problem = relationProblem(candidate, fetched.parsed);
  if (problem) {
    throw new FerryError("EBADIMAGE", `${what}: ${problem}`, {
      hint: `the source lists it as attached by ${candidate.foundBy}, but the artifact says otherwise; save with --no-attached to leave attached artifacts out`,
      details: { image: target.name, digest: descriptor.digest, subject },
    });
  }
  return { descriptor, ...fetched };
}

/** The buildx attestation manifests of an index that describe one of `kept`, as candidates. */
export function attestationsFor(children: Descriptor[], kept: Set<string>): AttachedCandidate[] {
  return children.flatMap((child): AttachedCandidate[] => {
    const subject = buildxAttestationSubject(child);
    if (!subject || !kept.has(subject)) return [];
    const { mediaType, digest, size } = child;
    return [{ descriptor: { mediaType, digest, size }, subject, foundBy: "buildx-attestation" }];
  });
}
