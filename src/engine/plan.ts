import { Buffer } from "node:buffer";
import { sha256Digest } from "../digest/sha256.js";
import { verifyBytes } from "../digest/verifying-stream.js";
import { FerryError, NotFoundError } from "../errors.js";
import {
  type AttachedArtifact,
  type AttachedCandidate,
  type AttachedSelection,
  artifactTypesOf,
  selectionKeeps,
} from "../types/attached.js";
import { boundedList } from "../types/bounded-list.js";
import type { Descriptor } from "../types/descriptor.js";
import type { Digest } from "../types/digest.js";
import {
  type ImageIndex,
  type ParsedManifest,
  parseImageConfig,
  platformOfConfig,
} from "../types/manifest.js";
import { MediaType } from "../types/media-types.js";
import {
  describeAvailablePlatforms,
  formatPlatform,
  isUnknownPlatform,
  matchesPlatform,
  type Platform,
  type PlatformSelector,
  selectPlatforms,
} from "../types/platform.js";
import type { Source, SourceImage } from "../types/transport.js";
import {
  type AttachedPlanTarget,
  attestationsFor,
  planAttached,
  type SkippedAttached,
} from "./attached.js";
import { checkDescriptorType, fetchVerifiedManifest, readStream } from "./verified-manifest.js";

/** A manifest or index whose bytes were fetched and verified while planning. */
export interface PlannedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** A blob the plan needs, with what it is for (used in messages). */
export interface PlannedBlob {
  descriptor: Descriptor;
  role: string;
}

/** Everything the copy of one image needs, fetched and checked up front. */
export interface ImagePlan {
  /** Where the image's bytes come from. */
  source: Source;
  name: string;
  origin: string;
  annotations?: Record<string, string>;
  /** What the image's name points at after the copy (possibly a new, narrowed index). */
  root: Descriptor;
  /** Manifests in put order: children before the index that names them. */
  manifests: PlannedManifest[];
  /** Configs and layers (each digest once). */
  blobs: PlannedBlob[];
  /** Config bytes read during planning, so the copy does not read them again. */
  configBytes: Map<string, Buffer>;
  platforms: Platform[];
  /** Bytes of every distinct manifest and blob reachable from the root. */
  size: number;
  /** The source index digest when a platform subset was taken from it. */
  sourceIndexDigest?: string;
  /** What is attached to the image's manifests (their manifests and blobs are in the plan). */
  attached: AttachedArtifact[];
  /** Attached artifacts found but not carried, and why. */
  attachedSkipped: SkippedAttached[];
  /** A root that is not a container image (a Helm chart...): its artifactType or config type. */
  artifactType?: string;
}

export interface PlanOptions {
  platforms: PlatformSelector;
  /**
   * Which attached artifacts to carry (default: all the source knows of); false: none, and a
   * platform subset of a buildx index keeps no attestation manifests.
   */
  attached?: AttachedSelection | false;
}

/** The selection that carries every attached artifact. */
const ALL_ATTACHED: AttachedSelection = { types: [] };

const CONFIG_MEDIA_TYPES = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * The most descriptors one image may expand to: index entries (repeats counted each time),
 * configs and layers. Real images name a few hundred; a hostile index that names the same
 * child thousands of times, nested, is refused at this count instead of being walked.
 */
export const MAX_IMAGE_DESCRIPTORS = 10_000;

class PlanBuilder {
  readonly manifests: PlannedManifest[] = [];
  readonly blobs = new Map<string, PlannedBlob>();
  readonly configBytes = new Map<string, Buffer>();
  readonly platforms: Platform[] = [];
  private readonly seenManifests = new Set<string>();
  /** Manifests and indexes already walked: each digest is fetched and walked once. */
  private readonly walked = new Map<string, ParsedManifest>();
  /** The bytes of every manifest fetched (and checked) so far, for a second look. */
  private readonly fetched = new Map<string, { bytes: Buffer; parsed: ParsedManifest }>();
  private descriptors = 0;

  constructor(
    private readonly source: Source,
    private readonly name: string,
  ) {}

  /** Count descriptors the walk reached; refuse an image that expands to too many. */
  count(descriptors: number): void {
    this.descriptors += descriptors;
    if (this.descriptors > MAX_IMAGE_DESCRIPTORS) {
      throw new FerryError(
        "EBADIMAGE",
        `${this.name} names more than ${MAX_IMAGE_DESCRIPTORS.toLocaleString("en-US")} manifests, platforms and blobs (repeated entries counted each time); ferry refuses it as broken or hostile`,
        {
          hint: "check the image where it came from: a real image names far fewer; nothing was written",
          details: { image: this.name, limit: MAX_IMAGE_DESCRIPTORS },
        },
      );
    }
  }

  addBlob(descriptor: Descriptor, role: string): void {
    if (!this.blobs.has(descriptor.digest)) this.blobs.set(descriptor.digest, { descriptor, role });
  }

  /** A manifest fetched and checked once, from memory the next time. */
  async fetch(
    descriptor: Descriptor,
    what: string,
  ): Promise<{ bytes: Buffer; parsed: ParsedManifest }> {
    const known = this.fetched.get(descriptor.digest);
    if (known) {
      checkDescriptorType(descriptor, known.parsed, what, this.name);
      return known;
    }
    const fetched = await fetchVerifiedManifest(this.source, descriptor, what, this.name);
    this.fetched.set(descriptor.digest, fetched);
    return fetched;
  }

  hasManifest(digest: string): boolean {
    return this.seenManifests.has(digest);
  }

  /** Every manifest of the plan so far, in put order. */
  manifestDigests(): Digest[] {
    return this.manifests.map((m) => m.descriptor.digest);
  }

  /**
   * Walk an attached artifact: its config and layers are blobs (never read: no platform), an
   * index's children are artifacts too.
   */
  async walkArtifact(
    descriptor: Descriptor,
    bytes: Buffer,
    parsed: ParsedManifest,
    depth = 0,
  ): Promise<void> {
    if (this.seenManifests.has(descriptor.digest)) return;
    this.walked.set(descriptor.digest, parsed);
    this.fetched.set(descriptor.digest, { bytes, parsed });
    const role = `attached artifact ${descriptor.digest} of ${this.name}`;
    if (parsed.kind === "manifest") {
      const { manifest } = parsed;
      this.count(1 + manifest.layers.length);
      this.addBlob(manifest.config, `config of ${role}`);
      manifest.layers.forEach((layer, i) => {
        this.addBlob(layer, `layer ${i + 1}/${manifest.layers.length} of ${role}`);
      });
    } else {
      if (depth > 4) throw new FerryError("EBADIMAGE", `${role}: indexes nested too deeply`);
      this.count(parsed.index.manifests.length);
      for (const child of parsed.index.manifests) {
        const fetched = await this.fetch(child, `manifest ${child.digest} of ${role}`);
        await this.walkArtifact(child, fetched.bytes, fetched.parsed, depth + 1);
      }
    }
    this.addManifest(descriptor, bytes);
  }

  addManifest(descriptor: Descriptor, bytes: Buffer): void {
    if (this.seenManifests.has(descriptor.digest)) return;
    this.seenManifests.add(descriptor.digest);
    this.manifests.push({ descriptor, bytes });
  }

  /** Walk an image manifest: its config (read and checked now) and its layers. */
  async walkManifest(
    descriptor: Descriptor,
    parsed: Extract<ParsedManifest, { kind: "manifest" }>,
    bytes: Buffer,
  ): Promise<void> {
    const { manifest } = parsed;
    this.walked.set(descriptor.digest, parsed);
    this.count(1 + manifest.layers.length);
    const config = manifest.config;
    const what = `config ${config.digest} of ${this.name}`;
    this.addBlob(config, `config of ${this.name}`);
    if (CONFIG_MEDIA_TYPES.has(config.mediaType) && config.size <= MAX_CONFIG_BYTES) {
      let configBytes = this.configBytes.get(config.digest);
      if (!configBytes) {
        configBytes = await readStream(await this.source.openBlob(config), config.size, what);
        verifyBytes(configBytes, config, what);
        this.configBytes.set(config.digest, configBytes);
      }
      const platform = descriptor.platform ?? platformOfConfig(parseImageConfig(configBytes, what));
      // unknown/unknown: a buildx attestation manifest, never a platform.
      if (platform && !isUnknownPlatform(platform)) this.platforms.push(platform);
    } else if (descriptor.platform && !isUnknownPlatform(descriptor.platform)) {
      this.platforms.push(descriptor.platform);
    }
    manifest.layers.forEach((layer, i) => {
      this.addBlob(layer, `layer ${i + 1}/${manifest.layers.length} of ${this.name}`);
    });
    this.addManifest(descriptor, bytes);
  }

  /**
   * Walk a manifest or index the image reaches. A digest met again (an index may name the same
   * child many times, at every level) is not fetched or walked again.
   */
  async walk(descriptor: Descriptor, depth = 0): Promise<void> {
    const what = `manifest ${descriptor.digest} of ${this.name}`;
    const known = this.walked.get(descriptor.digest);
    if (known) {
      checkDescriptorType(descriptor, known, what, this.name);
      return;
    }
    if (depth > 4) throw new FerryError("EBADIMAGE", `${this.name}: indexes nested too deeply`);
    const fetched = await this.fetch(descriptor, what);
    await this.walkFetched(descriptor, fetched.bytes, fetched.parsed, depth);
  }

  /** Walk a manifest or index whose bytes were fetched and checked already. */
  async walkFetched(
    descriptor: Descriptor,
    bytes: Buffer,
    parsed: ParsedManifest,
    depth: number,
  ): Promise<void> {
    this.walked.set(descriptor.digest, parsed);
    if (parsed.kind === "manifest") {
      await this.walkManifest(descriptor, parsed, bytes);
      return;
    }
    // Counted before any child is fetched: an index of 18,000 entries fails here, at once.
    this.count(parsed.index.manifests.length);
    for (const child of parsed.index.manifests) await this.walk(child, depth + 1);
    this.addManifest(descriptor, bytes);
  }
}

/** Serialize a narrowed index: the original, naming only the chosen children. */
function narrowIndex(original: ImageIndex, mediaType: string, children: Descriptor[]): Buffer {
  const narrowed: ImageIndex = { ...original, mediaType, manifests: children };
  return Buffer.from(JSON.stringify(narrowed));
}

function sumSizes(plan: Pick<ImagePlan, "manifests" | "blobs">): number {
  let size = 0;
  for (const m of plan.manifests) size += m.descriptor.size;
  for (const b of plan.blobs) size += b.descriptor.size;
  return size;
}

/** The type of a root that is not a container image (a Helm chart, an SBOM...), else undefined. */
function rootArtifactType(parsed: ParsedManifest): string | undefined {
  if (parsed.kind === "index") return parsed.index.artifactType;
  const { manifest } = parsed;
  if (manifest.artifactType) return manifest.artifactType;
  return CONFIG_MEDIA_TYPES.has(manifest.config.mediaType) ? undefined : manifest.config.mediaType;
}

/**
 * Fetch and check an image's manifests and configs, choose platforms, and list the blobs the
 * copy must move; then find what is attached to the manifests it saves (through the source)
 * and add those artifacts. Nothing is written anywhere.
 */
export async function planImage(
  source: Source,
  image: SourceImage,
  options: PlanOptions,
): Promise<ImagePlan> {
  const builder = new PlanBuilder(source, image.name);
  const selection = options.attached === false ? undefined : (options.attached ?? ALL_ATTACHED);
  const rootWhat = `manifest ${image.descriptor.digest} of ${image.name}`;
  const { bytes, parsed } = await builder.fetch(image.descriptor, rootWhat);
  let root = image.descriptor;
  let sourceIndexDigest: string | undefined;
  /** A narrowed index ferry wrote: no source knows of anything attached to it. */
  let synthesized: string | undefined;
  /** Attachments found in the index itself (buildx attestation manifests). */
  let preset: AttachedCandidate[] = [];

  if (parsed.kind === "manifest") {
    await builder.walkManifest(root, parsed, bytes);
    if (options.platforms !== "all" && builder.platforms.length > 0) {
      const wanted = options.platforms;
      const platform = builder.platforms[0] as Platform;
      if (!wanted.some((spec) => matchesPlatform(platform, spec))) {
        throw new NotFoundError(
          `${image.name} is for ${formatPlatform(platform)}, not ${wanted.map(formatPlatform).join(", ")}`,
          { hint: "choose its platform with --platform, or --platform all" },
        );
      }
    }
  } else if (options.platforms === "all") {
    await builder.walkFetched(root, bytes, parsed, 0);
    // Kept inside the index as they are; recorded as attached too.
    const all = new Set(parsed.index.manifests.map((child) => child.digest as string));
    if (selection) preset = attestationsFor(parsed.index.manifests, all);
  } else {
    const children = parsed.index.manifests;
    builder.count(children.length);
    const choice = selectPlatforms(children, options.platforms);
    if (choice.missing.length > 0) {
      throw new NotFoundError(
        `${image.name} has no manifest for ${boundedList(choice.missing.map(formatPlatform))}; it offers ${describeAvailablePlatforms(children) || "no platforms"}`,
        { hint: "pick one of the offered platforms with --platform, or --platform all" },
      );
    }
    for (const child of choice.selected) await builder.walk(child, 1);
    const chosen = new Set(choice.selected.map((child) => child.digest as string));
    const attestations = selection ? attestationsFor(children, chosen) : [];
    if (choice.selected.length === 1) {
      sourceIndexDigest = root.digest;
      root = choice.selected[0] as Descriptor;
      preset = attestations;
    } else {
      // The attestation manifests of the kept platforms stay in the index (buildx's layout).
      const kept = new Set(chosen);
      for (const attestation of attestations) {
        const { descriptor } = attestation;
        const what = `attestation manifest ${descriptor.digest} of ${image.name}`;
        const fetched = await builder.fetch(descriptor, what);
        const types = artifactTypesOf(fetched.parsed);
        if (!selection || !selectionKeeps(selection, "attestation", types)) continue;
        await builder.walkFetched(descriptor, fetched.bytes, fetched.parsed, 1);
        kept.add(descriptor.digest);
        preset.push(attestation);
      }
      const keptChildren = children.filter((child) => kept.has(child.digest));
      if (keptChildren.length === children.length) {
        builder.addManifest(root, bytes);
      } else {
        sourceIndexDigest = root.digest;
        const narrowed = narrowIndex(parsed.index, parsed.mediaType, keptChildren);
        root = {
          mediaType: parsed.mediaType,
          digest: sha256Digest(narrowed),
          size: narrowed.length,
        };
        synthesized = root.digest;
        builder.addManifest(root, narrowed);
      }
    }
  }

  let attached: AttachedArtifact[] = [];
  let attachedSkipped: SkippedAttached[] = [];
  if (selection) {
    const target: AttachedPlanTarget = {
      source,
      name: image.name,
      fetch: (descriptor, what) => builder.fetch(descriptor, what),
      hasManifest: (digest) => builder.hasManifest(digest),
      addArtifact: (descriptor, artifactBytes, artifactParsed) =>
        builder.walkArtifact(descriptor, artifactBytes, artifactParsed),
      count: (descriptors) => builder.count(descriptors),
    };
    const subjects = builder.manifestDigests().filter((digest) => digest !== synthesized);
    ({ attached, skipped: attachedSkipped } = await planAttached(
      target,
      subjects,
      preset,
      selection,
    ));
  }

  const plan: ImagePlan = {
    source,
    name: image.name,
    origin: image.origin,
    root: { mediaType: root.mediaType, digest: root.digest, size: root.size },
    manifests: builder.manifests,
    blobs: [...builder.blobs.values()],
    configBytes: builder.configBytes,
    platforms: builder.platforms,
    size: 0,
    attached,
    attachedSkipped,
  };
  const rootIsSource = root.digest === image.descriptor.digest || root.digest === synthesized;
  const artifactType = rootArtifactType(
    rootIsSource ? parsed : (await builder.fetch(root, rootWhat)).parsed,
  );
  if (artifactType) plan.artifactType = artifactType;
  if (image.annotations) plan.annotations = image.annotations;
  if (sourceIndexDigest) plan.sourceIndexDigest = sourceIndexDigest;
  plan.size = sumSizes(plan);
  return plan;
}
