/**
 * Copies into a destination that takes a plain copy (`docker-archive:FILE`, a Docker engine,
 * containerd; see `CopyDestination` in transports/entry.ts): stored images (`ferry export`) or a
 * verified bundle's (`ferry load BUNDLE --to docker`). The destination's sink comes from the
 * transport table; what it takes (one platform per image, container images only) is checked
 * before anything is written, and images it does not take (Windows base OS images, artifacts
 * that are not container images) are left out and listed.
 */

import type { CopyEvent } from "../engine/copy.js";
import type { ImagePlan } from "../engine/plan.js";
import { FerryError, isFerryError } from "../errors.js";
import { DiscardSink } from "../transports/discard.js";
import type { CopyDestination, ImageOutcome } from "../transports/entry.js";
import { attachedOfEntry } from "../transports/layout/attached-records.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import { type DestinationSpec, destinationRole } from "../transports/table.js";
import type { TrustedKey } from "../trust/keys.js";
import { parseManifest } from "../types/manifest.js";
import {
  FerryAnnotation,
  isIndexMediaType,
  MediaType,
  OS_IMAGE_KIND,
} from "../types/media-types.js";
import type { PlatformSelector } from "../types/platform.js";
import type { SourceImage } from "../types/transport.js";
import { refuseReservedOutput } from "../types/windows-names.js";
import type { CosignPolicy } from "./cosign-check.js";
import { copyPlans, planImages, withBundle } from "./transfer.js";
import { storeRefName } from "./wim-refs.js";

export interface ExportReport {
  /** Where the copy landed (the tarball). */
  output: string;
  /**
   * `repoTag`: the name the image has there (docker's `repo:tag`), when it has one; `status`,
   * `id` and `previous`: what became of it, at a destination that tells (an engine).
   */
  images: Array<{
    ref: string;
    repoTag?: string;
    digest: string;
    platforms: string[];
    status?: ImageOutcome["status"];
    id?: string;
    previous?: string;
  }>;
  /**
   * Images the destination does not take (OS images, artifacts such as a Helm chart), and why;
   * `artifactType` for an artifact that says its type.
   */
  skipped?: Array<{ ref: string; reason: string; artifactType?: string }>;
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

const OS_IMAGE_REASON = "a Windows base OS image (.wim), not a container image";
const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);

/**
 * Why a planned image is not a container image (a Windows base OS image, an artifact whose
 * config is not an image config), or undefined when it is one.
 */
export function notContainerImage(plan: ImagePlan): string | undefined {
  if (plan.annotations?.[FerryAnnotation.Kind] === OS_IMAGE_KIND) return OS_IMAGE_REASON;
  for (const { descriptor, bytes } of plan.manifests) {
    const parsed = parseManifest(bytes, descriptor.mediaType, `manifest of ${plan.name}`);
    if (parsed.kind !== "manifest") continue;
    const configType = parsed.manifest.config.mediaType;
    if (!IMAGE_CONFIG_TYPES.has(configType)) {
      return `not a container image (its config is ${configType})`;
    }
  }
  return undefined;
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
  planned: ImagePlan[],
  options: ExportOptions,
  started: number,
  skipped: NonNullable<ExportReport["skipped"]> = [],
  /** What to do when nothing can go in (default: for images from the store). */
  nothingHint = "carry artifacts and OS images in a bundle, or push them to a registry (ferry push, ferry load --to registry:)",
): Promise<ExportReport> {
  const copy = copyRole(options.destination);
  const where = copy.location(options.destination);
  const plans = planned.filter((plan) => {
    const reason = copy.containerImagesOnly ? notContainerImage(plan) : undefined;
    if (!reason) return true;
    skipped.push({
      ref: plan.name,
      reason,
      ...(plan.artifactType ? { artifactType: plan.artifactType } : {}),
    });
    options.onNote?.(`left out ${plan.name}: ${reason}; ${where} holds container images only`);
    return false;
  });
  if (plans.length === 0 && skipped.length > 0) {
    throw new FerryError(
      "EUSAGE",
      `nothing to write to ${where}: ${skipped.map((s) => `${s.ref} (${s.reason})`).join(", ")}`,
      { hint: nothingHint },
    );
  }
  if (copy.onePlatform) checkOnePlatform(plans, copy.onePlatform);
  refuseReservedOutput(copy.location(options.destination));
  // A dry run reads and hashes what the copy would hold, into a sink that keeps nothing.
  const sink = options.dryRun ? new DiscardSink() : await copy.openSink(options.destination, plans);
  const result = await copyPlans(sink, plans, options);
  const outcomes = new Map(
    ("outcomes" in sink ? (sink.outcomes?.() ?? []) : []).map((o) => [o.name, o]),
  );
  return {
    output: copy.location(options.destination),
    images: result.images.map((record) => {
      const repoTag = copy.nameOf(record.name);
      const outcome = outcomes.get(record.name);
      return {
        ref: record.name,
        ...(repoTag ? { repoTag } : {}),
        digest: record.descriptor.digest,
        platforms: record.platforms.map(
          (p) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`,
        ),
        ...(outcome
          ? {
              status: outcome.status,
              id: outcome.id,
              ...(outcome.previous ? { previous: outcome.previous } : {}),
            }
          : {}),
      };
    }),
    ...(skipped.length ? { skipped } : {}),
    blobs: result.blobsCopied,
    bytes: result.bytesCopied,
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
      refName: await storeRefName(store, ref),
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

/** `ferry load BUNDLE --to KIND`: a verified bundle straight to a copy destination. */
export function bundleToDestination(
  bundle: string,
  options: ExportOptions & {
    trust?: TrustedKey[];
    cosign?: CosignPolicy;
    partsFrom?: string | undefined;
  },
): Promise<ExportReport> {
  const started = Date.now();
  const copy = copyRole(options.destination);
  return withBundle(
    bundle,
    { trust: options.trust ?? [], cosign: options.cosign, partsFrom: options.partsFrom },
    async ({ source, manifest, gate }) => {
      // OS images are left out before planning (their platform is not the one docker gets).
      const skipped: NonNullable<ExportReport["skipped"]> = [];
      const isOsImage = (image: SourceImage) =>
        image.annotations?.[FerryAnnotation.Kind] === OS_IMAGE_KIND;
      const include = copy.containerImagesOnly
        ? (image: SourceImage) => !isOsImage(image)
        : undefined;
      // The cosign gate judges each image as the bundle carries it (every platform, its
      // signatures), before anything is written; the copy may take a platform and leave the
      // signatures out.
      if (options.cosign) {
        await gate(await planImages([{ source, platforms: "all" }], include ? { include } : {}));
      }
      const plans = await planImages([{ source, platforms: options.platforms }], {
        ...(include
          ? {
              include: (image: SourceImage) => {
                if (!isOsImage(image)) return true;
                skipped.push({ ref: image.name, reason: OS_IMAGE_REASON });
                return false;
              },
              attached: false,
            }
          : {}),
      });
      if (copy.containerImagesOnly) {
        const counts = manifest.images.map((i) => ({
          ref: i.ref,
          attached: i.attached?.length ?? 0,
        }));
        noteAttachedLeftOut(counts, copy.location(options.destination), options.onNote);
      }
      return await copyTo(
        plans,
        options,
        started,
        skipped,
        `load the bundle into a store (ferry load ${bundle} --store DIR) or a registry (--to registry:HOST): they hold OS images and artifacts`,
      );
    },
  ).catch((error: unknown) => {
    throw withRemedy(
      error,
      `nothing was written; copy the bundle again from the original (\`ferry verify ${bundle}\` lists every problem)`,
    );
  });
}
