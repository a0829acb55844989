/**
 * The push itself: planned images into one registry. Every blob to be pushed is read and hashed
 * first (a registry cannot roll back: a bad blob found half-way would leave blobs and
 * repositories behind). Then one copy engine, the registry as its sink: blobs (skipped, mounted
 * or uploaded), then manifests by digest (children before their index), then the tags, last.
 * Any failure before the tags leaves no name moved.
 */

import type { CopyEvent } from "../../engine/copy.js";
import { NotFoundError, UsageError } from "../../errors.js";
import type { RegistryClient } from "../../transports/registry/client.js";
import { RegistrySink } from "../../transports/registry/sink.js";
import type { UploadTuning } from "../../transports/registry/upload.js";
import type { BlobLocations } from "../../transports/registry/upload-locations.js";
import { formatReference } from "../../types/reference.js";
import { checkUniqueTargets } from "../name-mapping.js";
import { copyPlans } from "../transfer.js";
import { nothingWritten, verifyCarriedBlobs } from "../verify-first.js";
import { previewPush } from "./preview.js";
import { reopener } from "./reopen.js";
import {
  BlobTally,
  type PushedImage,
  type PushItem,
  type PushReport,
  pushedImage,
} from "./report.js";
import { stripForeignUrlsOf } from "./strip-foreign.js";

export interface PushOptions {
  /** A client for the target registry (its auth, TLS and retry settings). */
  client: RegistryClient;
  /** Rewrite foreign layers to plain ones (media type, no urls); indexes follow. */
  stripForeignUrls?: boolean;
  /** Where earlier pushes saw blobs (cross-repository mounts). */
  locations?: BlobLocations;
  /** Blob uploads at once (default 4). */
  jobs?: number;
  tuning?: Partial<UploadTuning>;
  /** Verify, and show what would be pushed (statuses, blobs, bytes); push nothing. */
  dryRun?: boolean;
  onEvent?: (event: CopyEvent) => void;
  /** Progress of the verification that runs before anything is pushed. */
  onVerifyEvent?: (event: CopyEvent) => void;
  onNote?: (text: string) => void;
}

/** What to do about a bad blob found before the push, by where the images come from. */
function remedyOf(from: string): string {
  if (from.startsWith("store:")) {
    return `\`ferry check --store ${from.slice("store:".length)}\` lists every damaged blob and the images it breaks (--repair sets them aside); load those images again`;
  }
  return `copy the bundle again from the original (\`ferry verify ${from.slice("bundle:".length)}\` lists every problem)`;
}

/** Push planned images (all to the client's registry). */
export async function pushImages(
  input: PushItem[],
  from: string,
  options: PushOptions,
): Promise<PushReport> {
  const started = Date.now();
  const client = options.client;
  for (const { target, plan } of input) {
    if (target.registry !== client.registry) {
      throw new UsageError(
        `${plan.name} would go to ${target.registry}, not ${client.registry}: one registry per push`,
      );
    }
  }
  const rewrite = options.stripForeignUrls
    ? stripForeignUrlsOf(input)
    : { items: input, rewritten: [], originals: new Map<string, string>() };
  const { rewritten, originals } = rewrite;
  checkUniqueTargets(
    rewrite.items.map((i) => ({ name: i.plan.name, target: i.target, digest: i.plan.root.digest })),
  );
  // The same image under the same target name twice (e.g. named twice): push it once.
  const seen = new Set<string>();
  const items = rewrite.items.filter((i) => {
    const key = `${formatReference(i.target)} ${i.plan.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // Every blob read and hashed before the first request that changes the registry.
  const verified = await verifyCarriedBlobs(
    items.map((i) => i.plan),
    options.onVerifyEvent ? { onEvent: options.onVerifyEvent } : {},
  ).catch((error: unknown) => {
    throw nothingWritten(error, client.registry, remedyOf(from));
  });
  if (options.dryRun) {
    return previewPush(items, client, from, rewritten, originals, verified, started);
  }

  const targets = new Map(items.map((i) => [i.plan.name, i.target]));
  const sink = new RegistrySink({
    client,
    targetOf: (name) => {
      const target = targets.get(name);
      if (!target) throw new NotFoundError(`no target for ${name}`);
      return target;
    },
    reopen: reopener(items),
    ...(options.locations ? { locations: options.locations } : {}),
    ...(options.jobs ? { jobs: options.jobs } : {}),
    ...(options.tuning ? { tuning: options.tuning } : {}),
    ...(options.onNote ? { onNote: options.onNote } : {}),
  });
  for (const { plan, target } of items) {
    for (const blob of plan.blobs) sink.expect(target.repository, blob.descriptor, "blob");
    for (const manifest of plan.manifests) {
      sink.expect(target.repository, manifest.descriptor, "manifest", manifest.bytes);
    }
  }

  const result = await copyPlans(
    sink,
    items.map((i) => i.plan),
    options,
  );

  const tally = new BlobTally();
  const images: PushedImage[] = items.map((item) => {
    const { plan, target } = item;
    const image = pushedImage(item, originals);
    const attachedTags = sink.attachedTags.get(plan.name);
    if (attachedTags) image.attachedTags = attachedTags;
    const tag = sink.tags.find((t) => t.name === plan.name);
    if (tag) {
      image.target = tag.target;
      image.status = tag.status;
      if (tag.previous) image.previous = tag.previous;
    }
    for (const blob of plan.blobs) {
      const action = sink.blobActions.get(`${target.repository}@${blob.descriptor.digest}`);
      if (action) tally.count(image, target.repository, blob.descriptor, action);
    }
    for (const manifest of plan.manifests) {
      const action = sink.manifestActions.get(`${target.repository}@${manifest.descriptor.digest}`);
      if (action) image.manifests[action]++;
    }
    return image;
  });
  return {
    registry: client.registry,
    from,
    dryRun: false,
    images,
    blobs: tally.blobs,
    bytes: tally.bytes,
    manifestsPushed: [...sink.manifestActions.values()].filter((a) => a === "pushed").length,
    rewritten,
    omitted: result.omitted,
    uploads: {
      resumed: sink.uploads.resumes,
      restarted: sink.uploads.restarts,
      chunks: sink.uploads.chunks,
    },
    verified,
    seconds: (Date.now() - started) / 1000,
  };
}
