/** What a push reports (`ferry push`, `ferry load --to registry:`), and the counting of it. */

import type { OmittedBlob } from "../../engine/copy.js";
import type { ImagePlan } from "../../engine/plan.js";
import type { AttachedTagResult } from "../../transports/registry/attached-tags.js";
import type { AttachedArtifact } from "../../types/attached.js";
import type { Descriptor } from "../../types/descriptor.js";
import { formatPlatform } from "../../types/platform.js";
import { formatReference, type Reference } from "../../types/reference.js";
import type { CosignVerdict } from "../cosign-check.js";
import type { ImageStatus } from "../image-status.js";
import type { VerifiedBlobs } from "../verify-first.js";

export interface BlobCounts {
  uploaded: number;
  skipped: number;
  mounted: number;
}

export interface PushedImage {
  /** The name at the source (bundle or store). */
  source: string;
  /** The full target reference. */
  target: string;
  /** The digest pushed (after a rewrite, the new one). */
  digest: string;
  mediaType: string;
  platforms: string[];
  /** The target tag before the push (a dry run: what the push would make of it); `downgraded`: moved to an older bundle's image (only with --allow-downgrade). */
  status: ImageStatus | "downgraded";
  previous?: string;
  /** The digest before --strip-foreign-urls rewrote the image. */
  originalDigest?: string;
  blobs: BlobCounts;
  bytes: BlobCounts;
  manifests: { pushed: number; present: number };
  /** What is attached to the image and pushed with it (by digest). */
  attached?: AttachedArtifact[];
  /** The tags that make them findable (cosign's tags, the referrers index), and what happened. */
  attachedTags?: AttachedTagResult[];
}

/** A manifest --strip-foreign-urls rewrote. */
export interface RewrittenManifest {
  image: string;
  mediaType: string;
  from: string;
  to: string;
  /** Foreign layers made plain in it (0 for an index rewritten because a child changed). */
  layers: number;
}

export interface PushReport {
  registry: string;
  /** `bundle:PATH` or `store:DIR`. */
  from: string;
  dryRun: boolean;
  images: PushedImage[];
  blobs: BlobCounts;
  bytes: BlobCounts;
  manifestsPushed: number;
  rewritten: RewrittenManifest[];
  /** Foreign layers the bundle does not carry (left to their URLs). */
  omitted: OmittedBlob[];
  /** Upload sessions resumed where the registry stood, or started over. */
  uploads: { resumed: number; restarted: number; chunks: number };
  /** The blobs read and hashed before anything was pushed. */
  verified?: VerifiedBlobs;
  /** With `--cosign-key`: each image's cosign signatures, judged before anything was pushed. */
  cosign?: CosignVerdict[];
  seconds: number;
}

/** One image to push and where it goes. */
export interface PushItem {
  plan: ImagePlan;
  target: Reference;
}

export function zeroCounts(): BlobCounts {
  return { uploaded: 0, skipped: 0, mounted: 0 };
}

/** An image's line of the report, before its counts; `originalDigest` from a rewrite. */
export function pushedImage(
  { plan, target }: PushItem,
  originals: ReadonlyMap<string, string>,
): PushedImage {
  const image: PushedImage = {
    source: plan.name,
    target: formatReference(target),
    digest: plan.root.digest,
    mediaType: plan.root.mediaType,
    platforms: plan.platforms.map(formatPlatform),
    status: "new",
    blobs: zeroCounts(),
    bytes: zeroCounts(),
    manifests: { pushed: 0, present: 0 },
  };
  const original = originals.get(plan.name);
  if (original) image.originalDigest = original;
  if (plan.attached.length > 0) image.attached = plan.attached;
  return image;
}

/** Blob counts per image and in all (a blob counted once per repository it goes to). */
export class BlobTally {
  readonly blobs = zeroCounts();
  readonly bytes = zeroCounts();
  private readonly counted = new Set<string>();

  count(
    image: PushedImage,
    repository: string,
    descriptor: Descriptor,
    action: keyof BlobCounts,
  ): void {
    image.blobs[action]++;
    image.bytes[action] += descriptor.size;
    const key = `${repository}@${descriptor.digest}`;
    if (this.counted.has(key)) return;
    this.counted.add(key);
    this.blobs[action]++;
    this.bytes[action] += descriptor.size;
  }
}
