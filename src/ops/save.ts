import { type CopyEvent, copyImages } from "../engine/copy.js";
import { type ImagePlan, planImage } from "../engine/plan.js";
import { UsageError } from "../errors.js";
import { BundleSink } from "../transports/bundle/sink.js";
import type { BundleManifest } from "../types/bundle.js";
import type { PlatformSelector } from "../types/platform.js";
import type { Source } from "../types/transport.js";

export interface SaveOptions {
  output: string;
  platforms: PlatformSelector;
  tool: string;
  onEvent?: (event: CopyEvent) => void;
  jobs?: number;
}

export interface SaveReport {
  bundle: string;
  id: string;
  images: Array<{ ref: string; digest: string; platforms: string[]; size: number; source: string }>;
  blobs: number;
  bytes: number;
  fileSize: number;
  seconds: number;
  manifest: BundleManifest;
}

/** Plan every image of every source; the same name twice is a usage error. */
export async function planSources(
  sources: Source[],
  platforms: PlatformSelector,
): Promise<ImagePlan[]> {
  const plans: ImagePlan[] = [];
  const names = new Map<string, string>();
  for (const source of sources) {
    for (const image of await source.images()) {
      const earlier = names.get(image.name);
      if (earlier !== undefined) {
        throw new UsageError(`${image.name} comes from both ${earlier} and ${image.origin}`, {
          hint: "save each image name once",
        });
      }
      names.set(image.name, image.origin);
      plans.push(await planImage(source, image, { platforms }));
    }
  }
  return plans;
}

/**
 * Save images from any sources into one bundle. Blobs shared between images are written once;
 * the bundle appears under its name only when complete.
 */
export async function saveBundle(sources: Source[], options: SaveOptions): Promise<SaveReport> {
  const started = Date.now();
  const plans = await planSources(sources, options.platforms);
  const sink = await BundleSink.create(options.output, { tool: options.tool });
  await copyImages(sink, plans, {
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.jobs ? { jobs: options.jobs } : {}),
  });
  const written = sink.written;
  if (!written) throw new Error("bundle sink committed without a result");
  const { manifest } = written;
  return {
    bundle: written.path,
    id: manifest.id,
    images: manifest.images.map((image) => ({
      ref: image.ref,
      digest: image.digest,
      platforms: image.platforms,
      size: image.size,
      source: image.source,
    })),
    blobs: manifest.blobs.length,
    bytes: manifest.blobs.reduce((sum, blob) => sum + blob.size, 0),
    fileSize: written.bytes,
    seconds: (Date.now() - started) / 1000,
    manifest,
  };
}
