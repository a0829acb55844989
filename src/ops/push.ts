/**
 * Push images into a registry: a verified bundle straight from the USB medium
 * (`ferry load BUNDLE --to-registry HOST[/PREFIX]`) or images from the local store
 * (`ferry push REF DEST`, `ferry push --to-registry HOST[/PREFIX] REF...`). Every blob to be
 * pushed is read and hashed first (a registry cannot roll back: a bad blob found half-way
 * would leave blobs and repositories behind). Then one copy engine, the registry as its sink:
 * blobs (skipped, mounted or uploaded), then manifests by digest (children before their index),
 * then the tags, last. Any failure before the tags leaves no name moved.
 */

import type { Readable } from "node:stream";
import { sha256Digest } from "../digest/sha256.js";
import { VerifyingStream } from "../digest/verifying-stream.js";
import { type CopyEvent, copyImages, type OmittedBlob } from "../engine/copy.js";
import { type ImagePlan, type PlannedManifest, planImage } from "../engine/plan.js";
import { NotFoundError, UsageError } from "../errors.js";
import { BundleReader } from "../transports/bundle/reader.js";
import { BundleSource } from "../transports/bundle/source.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import type { RegistryClient } from "../transports/registry/client.js";
import { blobExists, manifestDigest } from "../transports/registry/push-checks.js";
import { RegistrySink } from "../transports/registry/sink.js";
import type { UploadTuning } from "../transports/registry/upload.js";
import type { BlobLocations } from "../transports/registry/upload-locations.js";
import type { TrustedKey } from "../trust/keys.js";
import type { Descriptor } from "../types/descriptor.js";
import { isForeignLayerMediaType, MediaType } from "../types/media-types.js";
import { formatPlatform } from "../types/platform.js";
import { formatReference, type Reference } from "../types/reference.js";
import type { Source, SourceCapabilities, SourceImage } from "../types/transport.js";
import { type ImageStatus, imageStatus } from "./image-status.js";
import {
  checkUniqueTargets,
  mapToRegistry,
  parseDestination,
  type RegistryTarget,
} from "./name-mapping.js";
import { explainSplitFailure } from "./open-bundle.js";
import { claimOf, RollbackGuard } from "./rollback.js";
import { nothingWritten, type VerifiedBlobs, verifyCarriedBlobs } from "./verify-first.js";
import { readStoreEntries, resolveStoreRef, type StoreEntry } from "./wim-refs.js";

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
  seconds: number;
}

/** One image to push and where it goes. */
export interface PushItem {
  plan: ImagePlan;
  target: Reference;
}

// ---------------------------------------------------------------------------------------------
// --strip-foreign-urls

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

/**
 * A bundle source that leaves out, on purpose, foreign layers the bundle does not carry (a
 * save with --skip-foreign): their manifests keep the URLs, and clients fetch them there.
 */
class ForeignTolerantSource implements Source {
  readonly label: string;
  readonly capabilities: SourceCapabilities;

  constructor(private readonly inner: Source) {
    this.label = inner.label;
    this.capabilities = {
      lacksBlob: (descriptor) => this.lacksBlob(descriptor),
      omitReason: (descriptor) => this.omitReason(descriptor),
    };
  }

  images(): Promise<SourceImage[]> {
    return this.inner.images();
  }

  fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    return this.inner.fetchManifest(descriptor);
  }

  openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.inner.openBlob(descriptor);
  }

  lacksBlob(descriptor: Descriptor): boolean {
    return this.inner.capabilities?.lacksBlob?.(descriptor) ?? false;
  }

  omitReason(descriptor: Descriptor): string | undefined {
    if (isForeignLayerMediaType(descriptor.mediaType) && this.lacksBlob(descriptor)) {
      return "foreign layer not carried by the bundle: the manifest keeps its URLs";
    }
    return undefined;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The push

function zeroCounts(): BlobCounts {
  return { uploaded: 0, skipped: 0, mounted: 0 };
}

/** A fresh stream of a blob from its source, checked like the engine checks the first one. */
function reopener(items: PushItem[]): (descriptor: Descriptor) => Promise<Readable> {
  const sources = new Map<string, Source>();
  for (const { plan } of items) {
    for (const blob of plan.blobs) {
      if (!sources.has(blob.descriptor.digest)) sources.set(blob.descriptor.digest, plan.source);
    }
  }
  return async (descriptor) => {
    const source = sources.get(descriptor.digest);
    if (!source) throw new NotFoundError(`blob ${descriptor.digest}: no source to read it again`);
    const input = await source.openBlob(descriptor);
    const verifier = new VerifyingStream(descriptor, `blob ${descriptor.digest} (read again)`);
    input.on("error", (error) => verifier.destroy(error));
    // Its verdict reaches the uploader through its reads; an early one must not crash.
    verifier.on("error", () => {});
    input.pipe(verifier);
    return verifier;
  };
}

function platformsOf(plan: ImagePlan): string[] {
  return plan.platforms.map(formatPlatform);
}

/** What to do about a bad blob found before the push, by where the images come from. */
function remedyOf(from: string): string {
  if (from.startsWith("store:")) {
    return `\`ferry check --store ${from.slice("store:".length)}\` lists every damaged blob and the images it breaks (--repair sets them aside); load those images again`;
  }
  return `copy the bundle again from the original (\`ferry verify ${from.slice("bundle:".length)}\` lists every problem)`;
}

/**
 * A dry run's report: what the push would do, asked of the registry with HEAD requests only
 * (each tag, each manifest and blob in each target repository). A blob that some repository
 * of this push lacks counts as uploaded once and mounted into the others, as the push does;
 * mounts from repositories outside this push (hints of earlier pushes) are not foreseen.
 */
async function previewPush(
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
  const totals = { blobs: zeroCounts(), bytes: zeroCounts() };
  const counted = new Set<string>();
  const manifestsSeen = new Set<string>();
  let manifestsPushed = 0;
  const omitted = new Map<string, OmittedBlob>();
  const images: PushedImage[] = [];
  for (const { plan, target } of items) {
    const repository = target.repository;
    const image: PushedImage = {
      source: plan.name,
      target: formatReference(target),
      digest: plan.root.digest,
      mediaType: plan.root.mediaType,
      platforms: platformsOf(plan),
      status: "new",
      blobs: zeroCounts(),
      bytes: zeroCounts(),
      manifests: { pushed: 0, present: 0 },
    };
    const original = originals.get(plan.name);
    if (original) image.originalDigest = original;
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
      const key = `${repository}@${descriptor.digest}`;
      const action = await actionOf(repository, descriptor.digest);
      image.blobs[action]++;
      image.bytes[action] += descriptor.size;
      if (!counted.has(key)) {
        counted.add(key);
        totals.blobs[action]++;
        totals.bytes[action] += descriptor.size;
      }
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
    blobs: totals.blobs,
    bytes: totals.bytes,
    manifestsPushed,
    rewritten,
    omitted: [...omitted.values()],
    uploads: { resumed: 0, restarted: 0, chunks: 0 },
    verified,
    seconds: (Date.now() - started) / 1000,
  };
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
  let items = input;
  const rewritten: RewrittenManifest[] = [];
  const originals = new Map<string, string>();
  if (options.stripForeignUrls) {
    items = input.map((item) => {
      const stripped = stripForeignUrls(item.plan);
      rewritten.push(...stripped.rewritten);
      if (stripped.plan.root.digest !== item.plan.root.digest) {
        originals.set(item.plan.name, item.plan.root.digest);
      }
      return { ...item, plan: stripped.plan };
    });
  }
  checkUniqueTargets(
    items.map((i) => ({ name: i.plan.name, target: i.target, digest: i.plan.root.digest })),
  );
  // The same image under the same target name twice (e.g. named twice): push it once.
  const seen = new Set<string>();
  items = items.filter((i) => {
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

  const result = await copyImages(
    sink,
    items.map((i) => i.plan),
    {
      ...(options.jobs ? { jobs: options.jobs } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    },
  );

  const totals = { blobs: zeroCounts(), bytes: zeroCounts() };
  const counted = new Set<string>();
  const images: PushedImage[] = items.map(({ plan, target }) => {
    const tag = sink.tags.find((t) => t.name === plan.name);
    const image: PushedImage = {
      source: plan.name,
      target: tag?.target ?? formatReference(target),
      digest: plan.root.digest,
      mediaType: plan.root.mediaType,
      platforms: platformsOf(plan),
      status: tag?.status ?? "new",
      blobs: zeroCounts(),
      bytes: zeroCounts(),
      manifests: { pushed: 0, present: 0 },
    };
    if (tag?.previous) image.previous = tag.previous;
    const original = originals.get(plan.name);
    if (original) image.originalDigest = original;
    for (const blob of plan.blobs) {
      const key = `${target.repository}@${blob.descriptor.digest}`;
      const action = sink.blobActions.get(key);
      if (!action) continue;
      image.blobs[action]++;
      image.bytes[action] += blob.descriptor.size;
      if (!counted.has(key)) {
        counted.add(key);
        totals.blobs[action]++;
        totals.bytes[action] += blob.descriptor.size;
      }
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
    blobs: totals.blobs,
    bytes: totals.bytes,
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

// ---------------------------------------------------------------------------------------------
// From a bundle, from the store

export interface BundlePushOptions extends PushOptions {
  /** Require a signature by one of these keys (checked before anything is pushed). */
  trust?: TrustedKey[];
  /**
   * The registry's anti-rollback record on this host (`registryRollbackFile`): a bundle older
   * than what was pushed there before is refused (EDOWNGRADE) before anything is pushed.
   */
  rollbackFile?: string;
  /** Push an older bundle anyway (its names are reported `downgraded`). */
  allowDowngrade?: boolean;
}

/**
 * `ferry load BUNDLE --to-registry HOST[:PORT][/PREFIX]`: the bundle's structure is checked
 * first, manifests and configs are verified while planning, then every blob the bundle
 * carries is read and hashed before the first upload (a damaged bundle changes nothing on the
 * registry); blobs are verified again as they stream, and tags are pushed only after every
 * blob and manifest is in.
 */
export async function pushBundle(
  bundle: string,
  target: RegistryTarget,
  options: BundlePushOptions,
): Promise<PushReport> {
  const reader = await BundleReader.open(bundle, { trust: options.trust ?? [] });
  try {
    if (!reader.manifest) throw reader.problemsError();
    const inner = new BundleSource(reader);
    const source: Source = options.stripForeignUrls ? inner : new ForeignTolerantSource(inner);
    const items: PushItem[] = [];
    for (const image of await source.images()) {
      const plan = await planImage(source, image, { platforms: "all" });
      items.push({ plan, target: mapToRegistry(plan.name, target) });
    }
    if (items.length === 0) {
      throw new NotFoundError(`${bundle} holds no images`);
    }
    const rollback = options.rollbackFile
      ? await registryRollbackGuard(reader, bundle, items, options, options.rollbackFile)
      : undefined;
    const report = await pushImages(items, `bundle:${bundle}`, options);
    for (const image of report.images) {
      if (rollback?.downgraded.has(image.target) && image.status === "updated") {
        image.status = "downgraded";
      }
    }
    return report;
  } catch (error) {
    throw explainSplitFailure(reader, error);
  } finally {
    await reader.close();
  }
}

/**
 * Anti-rollback for a push (the registry cannot remember, so this host does): judge the
 * bundle against the registry's record and where each target tag points now, and (unless a
 * dry run) record it before anything is pushed. Refused: EDOWNGRADE, nothing pushed.
 */
async function registryRollbackGuard(
  reader: BundleReader,
  bundle: string,
  items: PushItem[],
  options: BundlePushOptions,
  file: string,
): Promise<RollbackGuard> {
  const tags = new Map<string, string>();
  const current = new Map<string, string | undefined>();
  for (const { plan, target } of items) {
    if (!target.tag) continue;
    const name = formatReference(target);
    const pushed = options.stripForeignUrls ? stripForeignUrls(plan).plan : plan;
    tags.set(name, pushed.root.digest);
    current.set(
      name,
      await manifestDigest(options.client, target.repository, target.tag, `tag ${name}`),
    );
  }
  const guard = new RollbackGuard(
    file,
    claimOf(reader, tags),
    { bundle, where: `registry ${options.client.registry} (record ${file})` },
    options.allowDowngrade === true,
  );
  if (options.dryRun) await guard.check(current);
  else await guard.commitLocked(current);
  return guard;
}

/** What to push from the store: a name as `ferry images` shows it, and maybe where to. */
export interface StorePushRequest {
  ref: string;
  /** A full target reference (`ferry push REF DEST`); else the --to-registry mapping. */
  dest?: string;
}

function pickEntries(entries: StoreEntry[], ref: string, where: string, single: boolean) {
  const resolved = resolveStoreRef(entries, ref, where);
  const digests = new Set(resolved.entries.map((e) => e.descriptor.digest));
  if (single && digests.size > 1) {
    throw new UsageError(`${ref} names ${digests.size} different images`, {
      hint: `name one: ${resolved.entries.map((e) => e.ref).join(", ")}`,
    });
  }
  return single ? resolved.entries.slice(0, 1) : resolved.entries;
}

/**
 * `ferry push REF DEST` and `ferry push --to-registry HOST[/PREFIX] REF...`: images from the
 * local store (read like `ferry export` reads them, without holding the store lock), every
 * blob of them hashed before the first upload, so a damaged store pushes nothing.
 */
export async function pushFromStore(
  storeDir: string,
  requests: StorePushRequest[],
  target: RegistryTarget | undefined,
  options: PushOptions,
): Promise<PushReport> {
  const store = await Store.open(storeDir);
  // index.json is read once: names are resolved and images pushed from that one read.
  const index = await store.readIndex();
  const entries = await readStoreEntries(store, index);
  const items: PushItem[] = [];
  const sources: Source[] = [];
  try {
    for (const request of requests) {
      const single = request.dest !== undefined;
      for (const entry of pickEntries(entries, request.ref, store.dir, single)) {
        const source = LayoutSource.fromIndex(store.files, index, {
          transport: `store:${store.dir}`,
          fallbackRepository: "localhost/unnamed",
          refName: entry.ref,
        });
        sources.push(source);
        const image = (await source.images())[0];
        if (!image) throw new NotFoundError(`no image ${entry.ref} in the store ${store.dir}`);
        const plan = await planImage(source, image, { platforms: "all" });
        let destination: Reference;
        if (request.dest !== undefined) destination = parseDestination(request.dest, plan.name);
        else if (target) destination = mapToRegistry(plan.name, target);
        else {
          throw new UsageError("ferry push needs REF DEST, or --to-registry HOST[/PREFIX] REF...");
        }
        items.push({ plan, target: destination });
      }
    }
    return await pushImages(items, `store:${store.dir}`, options);
  } finally {
    for (const source of sources) await source.close();
  }
}
