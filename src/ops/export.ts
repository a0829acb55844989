/**
 * Copies into a destination that takes a plain copy (today `docker-archive:FILE`; see
 * `CopyDestination` in transports/entry.ts): stored images (`ferry export`) or a verified
 * bundle's (`ferry load BUNDLE --to docker-archive:FILE`). The destination's sink comes from the
 * transport table; what it takes (one platform per image, container images only) is checked
 * before anything is written.
 */

import type { CopyEvent } from "../engine/copy.js";
import type { ImagePlan } from "../engine/plan.js";
import { FerryError, isFerryError } from "../errors.js";
import { DiscardSink } from "../transports/discard.js";
import type { CopyDestination } from "../transports/entry.js";
import { attachedOfEntry } from "../transports/layout/attached-records.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import { type DestinationSpec, destinationRole } from "../transports/table.js";
import type { TrustedKey } from "../trust/keys.js";
import { isIndexMediaType } from "../types/media-types.js";
import type { PlatformSelector } from "../types/platform.js";
import type { SourceImage } from "../types/transport.js";
import type { CosignPolicy } from "./cosign-check.js";
import { copyPlans, planImages, withBundle } from "./transfer.js";

export interface ExportReport {
  /** Where the copy landed (the tarball). */
  output: string;
  /** Images left out: not container images (a Helm chart...), which the destination cannot hold. */
  skipped?: Array<{ ref: string; artifactType: string }>;
  /** `repoTag`: the name the image has there (docker's `repo:tag`), when it has one. */
  images: Array<{ ref: string; repoTag?: string; digest: string; platforms: string[] }>;
  blobs: number;
  bytes: number;
  /** A dry run: the blobs and bytes the copy would hold were verified; nothing was written. */
  dryRun?: boolean;
  seconds: number;
}

export interface ExportOptions {
  /** Where to: a destination that takes a plain copy (`docker-archive:FILE`). */
  destination: DestinationSpec;
  /** For multi-platform images: the platform(s) to copy (one, where the destination says). */
  platforms: PlatformSelector;
  onEvent?: (event: CopyEvent) => void;
  /** Verify and report what the copy would hold; write nothing. */
  dryRun?: boolean;
  /** Told about what is left out (artifacts, attached signatures and SBOMs). */
  onNote?: (text: string) => void;
}

/** The destination's copy role, or a usage error for one with a protocol of its own. */
function copyRole(destination: DestinationSpec): CopyDestination<DestinationSpec> {
  const copy = destinationRole(destination).copy;
  if (!copy) {
    throw new FerryError("EUSAGE", `${destination.transport} takes no plain copy`, {
      hint: "load a bundle into it: ferry load BUNDLE --to ...",
    });
  }
  return copy;
}

/** A damaged blob (its bytes do not match its digest or size), with what to do about it. */
function withRemedy(error: unknown, hint: string): unknown {
  if (!isFerryError(error) || (error.code !== "EINTEGRITY" && error.code !== "ESIZE")) return error;
  return new FerryError(error.code, error.message, {
    hint: error.hint ?? hint,
    details: error.details,
    cause: error,
  });
}

/** A destination that takes one platform per image: refuse an index before writing anything. */
function checkOnePlatform(plans: ImagePlan[], reason: string): void {
  const multi = plans.find((plan) => isIndexMediaType(plan.root.mediaType));
  if (multi) {
    throw new FerryError("EUSAGE", `${multi.name} is a multi-platform index; ${reason}`, {
      hint: "choose one with --platform os/arch",
    });
  }
}

/**
 * A destination for container images only (docker load): artifacts (a Helm chart, any root
 * that is no container image) are left out with a note, instead of a tarball that `docker load`
 * fails on half-way.
 */
function containerImagesOnly(
  plans: ImagePlan[],
  destination: string,
  onNote: ((text: string) => void) | undefined,
): { kept: ImagePlan[]; skipped: NonNullable<ExportReport["skipped"]> } {
  const kept: ImagePlan[] = [];
  const skipped: NonNullable<ExportReport["skipped"]> = [];
  for (const plan of plans) {
    if (plan.artifactType === undefined) {
      kept.push(plan);
      continue;
    }
    skipped.push({ ref: plan.name, artifactType: plan.artifactType });
    onNote?.(
      `left out ${plan.name}: it is an artifact (${plan.artifactType}), not a container image; ${destination} holds container images only`,
    );
  }
  return { kept, skipped };
}

/** The note about attached artifacts a container-images-only destination cannot hold. */
function noteAttachedLeftOut(
  counts: Array<{ ref: string; attached: number }>,
  destination: string,
  onNote: ((text: string) => void) | undefined,
): void {
  for (const { ref, attached } of counts) {
    if (attached === 0) continue;
    onNote?.(
      `${ref}: its ${attached} attached artifact(s) (signatures, attestations, SBOMs) are not written: ${destination} cannot hold them`,
    );
  }
}

async function copyTo(
  allPlans: ImagePlan[],
  options: ExportOptions,
  started: number,
): Promise<ExportReport> {
  const copy = copyRole(options.destination);
  const where = copy.location(options.destination);
  const { kept: plans, skipped } = copy.containerImagesOnly
    ? containerImagesOnly(allPlans, where, options.onNote)
    : { kept: allPlans, skipped: [] };
  if (plans.length === 0 && skipped.length > 0) {
    throw new FerryError(
      "EUSAGE",
      `nothing to write to ${where}: ${skipped.map((s) => s.ref).join(", ")} ${skipped.length === 1 ? "is an artifact" : "are artifacts"}, not container images`,
      {
        hint: "carry artifacts in a bundle or push them to a registry (ferry push, ferry load --to registry:)",
      },
    );
  }
  if (copy.onePlatform) checkOnePlatform(plans, copy.onePlatform);
  // A dry run reads and hashes what the copy would hold, into a sink that keeps nothing.
  const sink = options.dryRun ? new DiscardSink() : await copy.openSink(options.destination);
  const result = await copyPlans(sink, plans, options);
  return {
    output: copy.location(options.destination),
    images: result.images.map((record) => {
      const repoTag = copy.nameOf(record.name);
      return {
        ref: record.name,
        ...(repoTag ? { repoTag } : {}),
        digest: record.descriptor.digest,
        platforms: record.platforms.map(
          (p) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`,
        ),
      };
    }),
    blobs: result.blobsCopied,
    bytes: result.bytesCopied,
    ...(skipped.length > 0 ? { skipped } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
    seconds: (Date.now() - started) / 1000,
  };
}

/** `ferry export REF... --to docker-archive:FILE` (or `-o FILE`): stored images. */
export async function exportImages(
  storeDir: string,
  refs: string[],
  options: ExportOptions,
): Promise<ExportReport> {
  const started = Date.now();
  const copy = copyRole(options.destination);
  const store = await Store.open(storeDir);
  const inputs = [];
  const attached: Array<{ ref: string; attached: number }> = [];
  for (const ref of refs) {
    const source = await LayoutSource.open(store.files, {
      transport: `store:${store.dir}`,
      fallbackRepository: "localhost/unnamed",
      refName: ref,
    });
    inputs.push({ source, platforms: options.platforms });
    for (const image of await source.images()) {
      const count = attachedOfEntry(image.descriptor, store.dir).length;
      attached.push({ ref: image.name, attached: count });
    }
  }
  const plans = await planImages(inputs, copy.containerImagesOnly ? { attached: false } : {});
  if (copy.containerImagesOnly) {
    noteAttachedLeftOut(attached, copy.location(options.destination), options.onNote);
  }
  return copyTo(plans, options, started).catch((error: unknown) => {
    throw withRemedy(
      error,
      `nothing was written; \`ferry check --store ${store.dir}\` lists every damaged blob and the images it breaks (--repair sets them aside), then load those images again`,
    );
  });
}

/** `ferry load BUNDLE --to docker-archive:FILE`: a verified bundle straight to the destination. */
export function bundleToDestination(
  bundle: string,
  options: ExportOptions & { trust?: TrustedKey[]; cosign?: CosignPolicy },
): Promise<ExportReport> {
  const started = Date.now();
  const copy = copyRole(options.destination);
  return withBundle(
    bundle,
    { trust: options.trust ?? [], cosign: options.cosign },
    async ({ source, manifest, gate }) => {
      const include = copy.containerImagesOnly
        ? (image: SourceImage) => image.annotations?.["vnd.ferry.kind"] !== "os-image"
        : undefined;
      // The cosign gate judges each image as the bundle carries it (every platform, its
      // signatures), before anything is written; the copy may take a platform and leave the
      // signatures out.
      if (options.cosign) {
        await gate(await planImages([{ source, platforms: "all" }], include ? { include } : {}));
      }
      const plans = await planImages([{ source, platforms: options.platforms }], {
        ...(include ? { include, attached: false } : {}),
      });
      if (copy.containerImagesOnly) {
        const counts = manifest.images.map((i) => ({
          ref: i.ref,
          attached: i.attached?.length ?? 0,
        }));
        noteAttachedLeftOut(counts, copy.location(options.destination), options.onNote);
      }
      return await copyTo(plans, options, started);
    },
  ).catch((error: unknown) => {
    throw withRemedy(
      error,
      `nothing was written; copy the bundle again from the original (\`ferry verify ${bundle}\` lists every problem)`,
    );
  });
}
