/**
 * The sequence every copying op follows, once: open the source (a bundle: structure and trust
 * checked, split volumes named when a blob in them is bad, closed whatever happens), plan its
 * images, copy the plans into a sink. save, load, load --dry-run, load --to, pull, push and
 * export each add only what is theirs (a store's anti-rollback, a registry's verification
 * first...).
 */

import { stat } from "node:fs/promises";
import { warmHashPool } from "../digest/hash-pool.js";
import { type CopyEvent, type CopyResult, copyImages } from "../engine/copy.js";
import { type ImagePlan, planImage } from "../engine/plan.js";
import { FerryError } from "../errors.js";
import { BundleReader } from "../transports/bundle/reader.js";
import { BundleSource } from "../transports/bundle/source.js";
import type { TrustedKey } from "../trust/keys.js";
import type { AttachedSelection } from "../types/attached.js";
import type { BundleManifest } from "../types/bundle.js";
import type { PlatformSelector } from "../types/platform.js";
import type { Sink, Source, SourceImage } from "../types/transport.js";
import { type CosignPolicy, type CosignVerdict, cosignGate } from "./cosign-check.js";
import { explainSplitFailure } from "./open-bundle.js";

/** A progress display for one phase of an op (`loading`, `verifying`, `pushing`...). */
export interface Progress {
  onEvent(event: CopyEvent): void;
  stop(): void;
}

/** Makes the progress display of a phase, named by what it does. */
export type ProgressFor = (operation: string) => Progress;

/** What a copy is told besides its sink and plans. */
export interface CopySettings {
  onEvent?: (event: CopyEvent) => void;
  /** Blob transfers at once (bounded further by the sink). */
  jobs?: number;
  /** Record bad blobs and go on (verification), instead of stopping at the first. */
  keepGoing?: boolean;
  /** Stop cleanly when this aborts (Ctrl-C): nothing committed, the sink's temp files removed. */
  signal?: AbortSignal;
}

/** Copy planned images into a sink (the engine: blobs verified, manifests, commit). */
export function copyPlans(
  sink: Sink,
  plans: ImagePlan[],
  settings: CopySettings = {},
): Promise<CopyResult> {
  return copyImages(sink, plans, {
    ...(settings.onEvent ? { onEvent: settings.onEvent } : {}),
    ...(settings.jobs ? { jobs: settings.jobs } : {}),
    ...(settings.keepGoing ? { keepGoing: true } : {}),
    ...(settings.signal ? { signal: settings.signal } : {}),
  });
}

/** One source and the platforms to take from it. */
export interface PlanInput {
  source: Source;
  platforms: PlatformSelector;
}

export interface PlanImagesOptions {
  /** Plan only the images this keeps (e.g. no OS images for docker). */
  include?: (image: SourceImage) => boolean;
  /** Refuse the same image name from two sources (or twice): the error to throw. */
  distinctNames?: (image: SourceImage, earlierOrigin: string) => Error;
  /** Go on past an image that fails to plan (verification), telling this; else it throws. */
  onPlanError?: (image: SourceImage, error: unknown) => void;
  /** Which attached artifacts to carry (default: all the sources know of); false: none. */
  attached?: AttachedSelection | false;
}

/**
 * One source names an image twice (an OCI layout's index.json with two entries of the same
 * ref name, a docker save's manifest.json with the same RepoTag twice): the file is at fault,
 * not the command line.
 */
function nameListedTwice(source: Source, image: SourceImage, earlierDigest: string): FerryError {
  const digests = earlierDigest === image.descriptor.digest ? "both" : `${earlierDigest} and`;
  const file = source.label.startsWith("oci:")
    ? `${source.label.slice(4)}/index.json`
    : source.label.startsWith("docker-archive:")
      ? `manifest.json in ${source.label.slice(15)}`
      : "its index (index.json of an OCI layout, manifest.json of a docker save)";
  return new FerryError(
    "EBADIMAGE",
    `${source.label} lists the image name ${image.name} twice (${digests} ${image.descriptor.digest})`,
    {
      hint: `${file} must name each image once: remove or rename one of the two entries, then run again`,
      details: { name: image.name, digests: [earlierDigest, image.descriptor.digest] },
    },
  );
}

/** Plan every image of every source, in order (manifests and configs fetched and verified). */
export async function planImages(
  inputs: PlanInput[],
  options: PlanImagesOptions = {},
): Promise<ImagePlan[]> {
  const plans: ImagePlan[] = [];
  const origins = new Map<string, { origin: string; source: Source; digest: string }>();
  for (const { source, platforms } of inputs) {
    for (const image of await source.images()) {
      if (options.include && !options.include(image)) continue;
      if (options.distinctNames) {
        const earlier = origins.get(image.name);
        if (earlier?.source === source) throw nameListedTwice(source, image, earlier.digest);
        if (earlier !== undefined) throw options.distinctNames(image, earlier.origin);
        origins.set(image.name, { origin: image.origin, source, digest: image.descriptor.digest });
      }
      try {
        const attached = options.attached === undefined ? {} : { attached: options.attached };
        plans.push(await planImage(source, image, { platforms, ...attached }));
      } catch (error) {
        if (!options.onPlanError) throw error;
        options.onPlanError(image, error);
      }
    }
  }
  return plans;
}

/** Tell about attached artifacts found but not carried (listed but gone, unknown media type). */
export function noteSkippedAttached(
  plans: ImagePlan[],
  onNote: ((text: string) => void) | undefined,
): void {
  for (const plan of plans) {
    for (const skipped of plan.attachedSkipped) {
      onNote?.(
        `${plan.name}: left out attached artifact ${skipped.digest} (for ${skipped.subject}): ${skipped.reason}`,
      );
    }
  }
}

/** Start the hash threads while a bundle's structure is checked (a large bundle only). */
export async function warmUpFor(bundle: string): Promise<void> {
  warmHashPool(
    await stat(bundle).then(
      (info) => info.size,
      () => 0,
    ),
  );
}

/** A bundle opened for a copy. */
export interface OpenedBundle {
  path: string;
  reader: BundleReader;
  manifest: BundleManifest;
  source: BundleSource;
  /**
   * The cosign gate (`--cosign-key`, `--require-signed`): run on the plans before anything is
   * written; ETRUST naming the unsigned images. Without keys it does nothing.
   */
  gate: (plans: ImagePlan[]) => Promise<CosignVerdict[] | undefined>;
}

/**
 * Open a bundle (one file or split volumes), check its structure and, with `trust`, its
 * signature, and hand it to `use`; the bundle is closed afterwards whatever happens, and a blob
 * found bad in split volumes is reported with the part files that hold it.
 */
export async function withBundle<T>(
  path: string,
  options: {
    trust?: TrustedKey[];
    cosign?: CosignPolicy | undefined;
    /** Split volumes: a folder of rebuilt volumes (`--parts-from`). */
    partsFrom?: string | undefined;
  },
  use: (bundle: OpenedBundle) => Promise<T>,
): Promise<T> {
  await warmUpFor(path);
  const reader = await BundleReader.open(path, {
    trust: options.trust ?? [],
    partsFrom: options.partsFrom,
  });
  try {
    const manifest = reader.manifest;
    if (!manifest) throw reader.problemsError();
    const gate = (plans: ImagePlan[]) => cosignGate(plans, options.cosign);
    return await use({ path, reader, manifest, source: new BundleSource(reader), gate });
  } catch (error) {
    throw explainSplitFailure(reader, error);
  } finally {
    await reader.close();
  }
}
