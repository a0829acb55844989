import { type CopyEvent, copyImages } from "../engine/copy.js";
import { type ImagePlan, planImage } from "../engine/plan.js";
import { FerryError, isFerryError } from "../errors.js";
import { BundleReader } from "../transports/bundle/reader.js";
import { BundleSource } from "../transports/bundle/source.js";
import { DiscardSink } from "../transports/discard.js";
import { DockerArchiveSink, dockerRepoTag } from "../transports/docker-archive/sink.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import type { TrustedKey } from "../trust/keys.js";
import { isIndexMediaType } from "../types/media-types.js";
import type { PlatformSelector } from "../types/platform.js";
import type { Source } from "../types/transport.js";
import { refuseReservedOutput } from "../types/windows-names.js";
import { explainSplitFailure } from "./open-bundle.js";

export interface ExportReport {
  output: string;
  images: Array<{ ref: string; repoTag?: string; digest: string; platforms: string[] }>;
  blobs: number;
  bytes: number;
  /** A dry run: the blobs and bytes the tarball would hold were verified; it was not written. */
  dryRun?: boolean;
  seconds: number;
}

export interface ExportOptions {
  output: string;
  /** For multi-platform images: which platform docker should get (one). */
  platforms: PlatformSelector;
  onEvent?: (event: CopyEvent) => void;
  /** Verify and report what the tarball would hold; write nothing. */
  dryRun?: boolean;
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

/** `docker load` takes one platform per image: refuse an index before writing anything. */
function checkOnePlatform(plans: ImagePlan[]): void {
  const multi = plans.find((plan) => isIndexMediaType(plan.root.mediaType));
  if (multi) {
    throw new FerryError(
      "EUSAGE",
      `${multi.name} is a multi-platform index; docker load takes one platform`,
      { hint: "choose one with --platform os/arch" },
    );
  }
}

async function writeArchive(
  plans: ImagePlan[],
  options: ExportOptions,
  started: number,
): Promise<ExportReport> {
  checkOnePlatform(plans);
  // A dry run reads and hashes what the tarball would hold, into a sink that keeps nothing.
  refuseReservedOutput(options.output);
  const sink = options.dryRun ? new DiscardSink() : await DockerArchiveSink.create(options.output);
  const result = await copyImages(sink, plans, options.onEvent ? { onEvent: options.onEvent } : {});
  return {
    output: options.output,
    images: result.images.map((record) => {
      const repoTag = dockerRepoTag(record.name);
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
    ...(options.dryRun ? { dryRun: true } : {}),
    seconds: (Date.now() - started) / 1000,
  };
}

/** Plan images for docker: a multi-platform image is narrowed to the one platform asked for. */
async function planForDocker(source: Source, platforms: PlatformSelector): Promise<ImagePlan[]> {
  const plans: ImagePlan[] = [];
  for (const image of await source.images())
    plans.push(await planImage(source, image, { platforms }));
  return plans;
}

/** `ferry export REF... -o images.tar`: stored images as a tarball for `docker load`. */
export async function exportImages(
  storeDir: string,
  refs: string[],
  options: ExportOptions,
): Promise<ExportReport> {
  const started = Date.now();
  const store = await Store.open(storeDir);
  const plans: ImagePlan[] = [];
  for (const ref of refs) {
    const source = await LayoutSource.open(store.files, {
      transport: `store:${store.dir}`,
      fallbackRepository: "localhost/unnamed",
      refName: ref,
    });
    plans.push(...(await planForDocker(source, options.platforms)));
  }
  return writeArchive(plans, options, started).catch((error: unknown) => {
    throw withRemedy(
      error,
      `nothing was written; \`ferry check --store ${store.dir}\` lists every damaged blob and the images it breaks (--repair sets them aside), then load those images again`,
    );
  });
}

/** `ferry load BUNDLE --docker-archive OUT.tar`: a verified bundle straight to a docker tarball. */
export async function bundleToDockerArchive(
  bundle: string,
  options: ExportOptions & { trust?: TrustedKey[] },
): Promise<ExportReport> {
  const started = Date.now();
  const reader = await BundleReader.open(bundle, { trust: options.trust ?? [] });
  try {
    const source = new BundleSource(reader);
    const images = (await source.images()).filter(
      (i) => i.annotations?.["vnd.ferry.kind"] !== "os-image",
    );
    const plans: ImagePlan[] = [];
    for (const image of images)
      plans.push(await planImage(source, image, { platforms: options.platforms }));
    return await writeArchive(plans, options, started);
  } catch (error) {
    throw withRemedy(
      explainSplitFailure(reader, error),
      `nothing was written; copy the bundle again from the original (\`ferry verify ${bundle}\` lists every problem)`,
    );
  } finally {
    await reader.close();
  }
}
