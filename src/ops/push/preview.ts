/** `--dry-run` of a push: what it would do, asked of the registry with HEAD requests only. */

import type { OmittedBlob } from "../../engine/copy.js";
import type { RegistryClient } from "../../transports/registry/client.js";
import { blobExists, manifestDigest } from "../../transports/registry/push-checks.js";
import { formatReference } from "../../types/reference.js";
import { imageStatus } from "../image-status.js";
import type { VerifiedBlobs } from "../verify-first.js";
import {
  type BlobCounts,
  BlobTally,
  type PushedImage,
  type PushItem,
  type PushReport,
  pushedImage,
  type RewrittenManifest,
} from "./report.js";

/**
 * A dry run's report: each tag, each manifest and blob in each target repository asked with a
 * HEAD request. A blob that some repository of this push lacks counts as uploaded once and
 * mounted into the others, as the push does; mounts from repositories outside this push (hints
 * of earlier pushes) are not foreseen.
 */
export async function previewPush(
  items: PushItem[],
  client: RegistryClient,
  from: string,
  rewritten: RewrittenManifest[],
  originals: Map<string, string>,
  verified: VerifiedBlobs,
  started: number,
): Promise<PushReport> {
  const blobHeld = new Map<string, Promise<boolean>>();
  const held = (repository: string, digest: string) => {
    const key = `${repository}@${digest}`;
    let answer = blobHeld.get(key);
    if (!answer) {
      const what = `blob ${digest} in ${client.registry}/${repository}`;
      answer = blobExists(client, repository, digest, what);
      blobHeld.set(key, answer);
    }
    return answer;
  };
  // As the registry sink decides: a blob some repository of this push holds is mounted into
  // the others; one none holds is uploaded into the first that needs it and mounted elsewhere.
  const needs = new Map<string, string[]>();
  for (const { plan, target } of items) {
    for (const { descriptor } of plan.blobs) {
      const repositories = needs.get(descriptor.digest) ?? [];
      if (!repositories.includes(target.repository)) repositories.push(target.repository);
      needs.set(descriptor.digest, repositories);
    }
  }
  const actionOf = async (repository: string, digest: string): Promise<keyof BlobCounts> => {
    if (await held(repository, digest)) return "skipped";
    const repositories = needs.get(digest) ?? [repository];
    for (const other of repositories) if (await held(other, digest)) return "mounted";
    return repositories.indexOf(repository) > 0 ? "mounted" : "uploaded";
  };
  const tally = new BlobTally();
  const manifestsSeen = new Set<string>();
  let manifestsPushed = 0;
  const omitted = new Map<string, OmittedBlob>();
  const images: PushedImage[] = [];
  for (const item of items) {
    const { plan, target } = item;
    const repository = target.repository;
    const image = pushedImage(item, originals);
    const what = `tag ${formatReference(target)}`;
    const previous = await manifestDigest(client, repository, target.tag ?? plan.root.digest, what);
    if (target.tag) Object.assign(image, imageStatus(previous, plan.root.digest));
    else if (previous) image.status = "unchanged";
    for (const { descriptor } of plan.blobs) {
      const reason = plan.source.capabilities?.omitReason?.(descriptor);
      if (reason !== undefined) {
        const known = omitted.get(descriptor.digest);
        if (known) known.images.push(plan.name);
        else {
          const { digest, size, mediaType } = descriptor;
          omitted.set(digest, { digest, size, mediaType, reason, images: [plan.name] });
        }
        continue;
      }
      tally.count(image, repository, descriptor, await actionOf(repository, descriptor.digest));
    }
    for (const { descriptor } of plan.manifests) {
      const key = `${repository}@${descriptor.digest}`;
      const present = await manifestDigest(
        client,
        repository,
        descriptor.digest,
        `manifest ${descriptor.digest} in ${client.registry}/${repository}`,
      );
      image.manifests[present ? "present" : "pushed"]++;
      if (!present && !manifestsSeen.has(key)) manifestsPushed++;
      manifestsSeen.add(key);
    }
    images.push(image);
  }
  return {
    registry: client.registry,
    from,
    dryRun: true,
    images,
    blobs: tally.blobs,
    bytes: tally.bytes,
    manifestsPushed,
    rewritten,
    omitted: [...omitted.values()],
    uploads: { resumed: 0, restarted: 0, chunks: 0 },
    verified,
    seconds: (Date.now() - started) / 1000,
  };
}
