/**
 * `--strip-foreign-urls`: foreign (non-distributable) layers made plain ones, for registries
 * that refuse them or clients that cannot reach their URLs.
 */

import { sha256Digest } from "../../digest/sha256.js";
import type { ImagePlan, PlannedManifest } from "../../engine/plan.js";
import type { Descriptor } from "../../types/descriptor.js";
import { isForeignLayerMediaType, MediaType } from "../../types/media-types.js";
import type { PushItem, RewrittenManifest } from "./report.js";

function distributable(mediaType: string): string {
  if (mediaType === MediaType.DockerForeignLayer) return MediaType.DockerLayerGzip;
  return mediaType.replace(".nondistributable", "");
}

interface JsonDescriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  urls?: unknown;
}

/**
 * Rewrite an image's manifests so foreign layers become plain ones (their media type made
 * distributable, `urls` dropped), and each index naming a changed child names the new one.
 * The layers' bytes and digests stay; the manifests (and so the image) get new digests.
 */
export function stripForeignUrls(plan: ImagePlan): {
  plan: ImagePlan;
  rewritten: RewrittenManifest[];
} {
  const renamed = new Map<string, Descriptor>();
  const rewritten: RewrittenManifest[] = [];
  const manifests: PlannedManifest[] = [];
  for (const manifest of plan.manifests) {
    const json = JSON.parse(manifest.bytes.toString("utf8")) as {
      layers?: JsonDescriptor[];
      manifests?: JsonDescriptor[];
    };
    let layers = 0;
    let changed = false;
    for (const layer of json.layers ?? []) {
      const foreign = isForeignLayerMediaType(layer.mediaType);
      if (!foreign && layer.urls === undefined) continue;
      if (foreign && layer.mediaType) layer.mediaType = distributable(layer.mediaType);
      delete layer.urls;
      layers++;
      changed = true;
    }
    for (const child of json.manifests ?? []) {
      const replacement = child.digest ? renamed.get(child.digest) : undefined;
      if (!replacement) continue;
      child.digest = replacement.digest;
      child.size = replacement.size;
      changed = true;
    }
    if (!changed) {
      manifests.push(manifest);
      continue;
    }
    const bytes = Buffer.from(JSON.stringify(json));
    const descriptor: Descriptor = {
      ...manifest.descriptor,
      digest: sha256Digest(bytes),
      size: bytes.length,
    };
    renamed.set(manifest.descriptor.digest, descriptor);
    manifests.push({ descriptor, bytes });
    rewritten.push({
      image: plan.name,
      mediaType: descriptor.mediaType,
      from: manifest.descriptor.digest,
      to: descriptor.digest,
      layers,
    });
  }
  if (rewritten.length === 0) return { plan, rewritten };
  const newRoot = renamed.get(plan.root.digest);
  const root = newRoot
    ? { mediaType: plan.root.mediaType, digest: newRoot.digest, size: newRoot.size }
    : plan.root;
  return { plan: { ...plan, manifests, root }, rewritten };
}

/** Items with --strip-foreign-urls applied, the rewrites, and each image's digest before. */
export function stripForeignUrlsOf(items: PushItem[]): {
  items: PushItem[];
  rewritten: RewrittenManifest[];
  originals: Map<string, string>;
} {
  const rewritten: RewrittenManifest[] = [];
  const originals = new Map<string, string>();
  const result = items.map((item) => {
    const rewrite = stripForeignUrls(item.plan);
    rewritten.push(...rewrite.rewritten);
    if (rewrite.plan.root.digest !== item.plan.root.digest) {
      originals.set(item.plan.name, item.plan.root.digest);
    }
    return { ...item, plan: rewrite.plan };
  });
  return { items: result, rewritten, originals };
}
