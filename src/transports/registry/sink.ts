import type { Readable } from "node:stream";
import { FerryError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { formatReference, type Reference } from "../../types/reference.js";
import type { ImageRecord, Sink } from "../../types/transport.js";
import { type AttachedTagResult, AttachedTagWriter } from "./attached-tags.js";
import type { RegistryClient } from "./client.js";
import { putManifest } from "./manifest-push.js";
import { mountBlob } from "./mount.js";
import { blobExists, manifestDigest } from "./push-checks.js";
import { DEFAULT_UPLOAD_TUNING, type UploadTuning, uploadBlob } from "./upload.js";
import { BlobLocations } from "./upload-locations.js";
import { cancelUpload } from "./upload-session.js";

/** What happened to a blob in one target repository. */
export type BlobAction = "uploaded" | "skipped" | "mounted";
/** What happened to a manifest in one target repository. */
export type ManifestAction = "pushed" | "present";

/** A tag the commit pushed (or found in place). */
export interface TagResult {
  /** The image's name at the source. */
  name: string;
  /** The full target reference. */
  target: string;
  digest: string;
  status: "new" | "updated" | "unchanged";
  previous?: string;
}

export interface RegistrySinkOptions {
  client: RegistryClient;
  /** The target reference (same registry as the client) of each image, by its source name. */
  targetOf: (name: string) => Reference;
  /** A fresh, verified stream of a blob from byte 0 (uploads that start over, mount fallbacks). */
  reopen: (descriptor: Descriptor) => Promise<Readable>;
  /** Where blobs were seen in this registry before (cross-repository mounts). */
  locations?: BlobLocations;
  /** Blob uploads at once. */
  jobs?: number;
  tuning?: Partial<UploadTuning>;
  onNote?: (text: string) => void;
}

interface Need {
  kind: "blob" | "manifest";
  descriptor: Descriptor;
  repositories: string[];
  bytes?: Buffer;
}

/**
 * A registry as a copy sink. The engine deduplicates blobs across images, so the sink is told
 * first (`expect`) which repositories need each digest. Then:
 *
 * - `hasBlob` HEADs the blob in every repository that needs it; where some lack it and another
 *   repository has it (this run, or a hint from an earlier push), it is mounted there; true
 *   only when every repository has it. Manifests are HEADed by digest.
 * - `putBlob` uploads into the first repository lacking the blob and mounts it into the rest.
 * - `putManifest` pushes by digest (children before their index, as the engine orders them).
 * - `commit` pushes the tags, last. `abort` cancels live upload sessions; no tag moves.
 *
 * Blobs and digest-addressed manifests that landed stay: they are invisible without a tag,
 * and the next push skips them.
 */
export class RegistrySink implements Sink {
  readonly label: string;
  readonly maxConcurrentBlobs: number;
  /** Blob outcomes per `repository@digest`. */
  readonly blobActions = new Map<string, BlobAction>();
  /** Manifest outcomes per `repository@digest`. */
  readonly manifestActions = new Map<string, ManifestAction>();
  readonly tags: TagResult[] = [];
  /** The tags of attached artifacts each image's commit wrote (or found right), by image. */
  readonly attachedTags = new Map<string, AttachedTagResult[]>();
  readonly uploads = { restarts: 0, resumes: 0, bytesSent: 0, chunks: 0 };
  private readonly needs = new Map<string, Need>();
  private readonly present = new Set<string>();
  private readonly checks = new Map<string, Promise<boolean>>();
  private readonly records: ImageRecord[] = [];
  private readonly live = new Map<symbol, { repository: string; location: URL }>();
  private readonly tuning: UploadTuning;
  private readonly locations: Promise<BlobLocations>;
  private readonly client: RegistryClient;
  private readonly attachedWriter: AttachedTagWriter;

  constructor(private readonly options: RegistrySinkOptions) {
    this.client = options.client;
    this.attachedWriter = new AttachedTagWriter(
      options.client,
      (digest) => this.needs.get(digest)?.bytes,
    );
    this.label = `registry ${options.client.registry}`;
    this.maxConcurrentBlobs = Math.max(1, options.jobs ?? 4);
    this.tuning = { ...DEFAULT_UPLOAD_TUNING, ...options.tuning };
    this.locations = options.locations
      ? Promise.resolve(options.locations)
      : BlobLocations.open(options.client.registry, undefined);
  }

  /** Declare that `repository` needs a blob or a manifest (with its bytes). */
  expect(repository: string, descriptor: Descriptor, kind: Need["kind"], bytes?: Buffer): void {
    let need = this.needs.get(descriptor.digest);
    if (!need) {
      need = { kind, descriptor, repositories: [] };
      this.needs.set(descriptor.digest, need);
    }
    if (bytes && !need.bytes) need.bytes = bytes;
    if (!need.repositories.includes(repository)) need.repositories.push(repository);
  }

  private need(descriptor: Descriptor): Need {
    const need = this.needs.get(descriptor.digest);
    if (!need) {
      throw new FerryError(
        "EINTERNAL",
        `${this.label}: ${descriptor.digest} was not announced to the sink`,
      );
    }
    return need;
  }

  private where(repository: string): string {
    return `${this.client.registry}/${repository}`;
  }

  private whatBlob(descriptor: Descriptor, repository: string): string {
    return `blob ${descriptor.digest} for ${this.where(repository)}`;
  }

  hasBlob(descriptor: Descriptor): Promise<boolean> {
    let check = this.checks.get(descriptor.digest);
    if (!check) {
      const need = this.need(descriptor);
      check = need.kind === "manifest" ? this.checkManifest(need) : this.checkBlob(need);
      this.checks.set(descriptor.digest, check);
      check.catch(() => this.checks.delete(descriptor.digest));
    }
    return check;
  }

  private key(repository: string, digest: string): string {
    return `${repository}@${digest}`;
  }

  private async checkManifest(need: Need): Promise<boolean> {
    const { digest } = need.descriptor;
    let all = true;
    for (const repository of need.repositories) {
      const key = this.key(repository, digest);
      if (this.present.has(key)) continue;
      const found = await manifestDigest(
        this.client,
        repository,
        digest,
        `manifest ${digest} in ${this.where(repository)}`,
      );
      if (found) {
        this.present.add(key);
        this.manifestActions.set(key, "present");
      } else all = false;
    }
    return all;
  }

  private async checkBlob(need: Need): Promise<boolean> {
    const { digest } = need.descriptor;
    const locations = await this.locations;
    const missing: string[] = [];
    for (const repository of need.repositories) {
      const key = this.key(repository, digest);
      if (this.present.has(key)) continue;
      const what = this.whatBlob(need.descriptor, repository);
      if (await blobExists(this.client, repository, digest, what)) {
        this.markPresent(repository, digest, "skipped");
        locations.set(digest, repository);
      } else missing.push(repository);
    }
    if (missing.length === 0) return true;
    const hinted = locations.get(digest);
    const from =
      need.repositories.find((r) => this.present.has(this.key(r, digest))) ??
      (hinted && !missing.includes(hinted) ? hinted : undefined);
    if (!from) return false;
    for (const repository of missing) {
      const mounted = await mountBlob(
        this.client,
        repository,
        digest,
        from,
        this.whatBlob(need.descriptor, repository),
      );
      if (!mounted) {
        locations.forget(digest, from);
        return false;
      }
      this.markPresent(repository, digest, "mounted");
    }
    return true;
  }

  private markPresent(repository: string, digest: string, action: BlobAction): void {
    const key = this.key(repository, digest);
    this.present.add(key);
    if (!this.blobActions.has(key)) this.blobActions.set(key, action);
  }

  async putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    const need = this.need(descriptor);
    const { digest } = descriptor;
    const missing = need.repositories.filter((r) => !this.present.has(this.key(r, digest)));
    const locations = await this.locations;
    if (missing.length === 0) {
      stream.resume();
      return;
    }
    const first = missing[0] as string;
    await this.upload(first, descriptor, stream);
    this.markPresent(first, digest, "uploaded");
    locations.set(digest, first);
    for (const repository of missing.slice(1)) {
      const what = this.whatBlob(descriptor, repository);
      if (await mountBlob(this.client, repository, digest, first, what)) {
        this.markPresent(repository, digest, "mounted");
      } else {
        await this.upload(repository, descriptor, await this.options.reopen(descriptor));
        this.markPresent(repository, digest, "uploaded");
      }
    }
    this.checks.set(digest, Promise.resolve(true));
  }

  private async upload(repository: string, descriptor: Descriptor, stream: Readable) {
    const id = Symbol(descriptor.digest);
    try {
      const outcome = await uploadBlob({
        client: this.client,
        repository,
        descriptor,
        stream,
        reopen: () => this.options.reopen(descriptor),
        what: this.whatBlob(descriptor, repository),
        tuning: this.tuning,
        ...(this.options.onNote ? { onNote: this.options.onNote } : {}),
        track: (location) => {
          if (location) this.live.set(id, { repository, location });
          else this.live.delete(id);
        },
      });
      this.uploads.restarts += outcome.restarts;
      this.uploads.resumes += outcome.resumes;
      this.uploads.bytesSent += outcome.bytesSent;
      this.uploads.chunks += outcome.chunks;
    } finally {
      this.live.delete(id);
    }
  }

  async putManifest(descriptor: Descriptor, bytes: Buffer): Promise<void> {
    const need = this.need(descriptor);
    for (const repository of need.repositories) {
      const key = this.key(repository, descriptor.digest);
      if (this.present.has(key)) continue;
      await putManifest(
        this.client,
        repository,
        descriptor.digest,
        descriptor,
        bytes,
        `manifest ${descriptor.digest} for ${this.where(repository)}`,
      );
      this.present.add(key);
      this.manifestActions.set(key, "pushed");
    }
    this.checks.set(descriptor.digest, Promise.resolve(true));
  }

  addImage(record: ImageRecord): void {
    this.records.push(record);
  }

  /**
   * Push the tags, last: until now nothing was visible by name. Each image's attached
   * artifacts get their tags (cosign's, the referrers index) before its own tag moves, so an
   * admission controller never sees the new image without its signature.
   */
  async commit(): Promise<void> {
    try {
      for (const record of this.records) {
        if (record.attached && record.attached.length > 0) {
          const repository = this.options.targetOf(record.name).repository;
          const written = await this.attachedWriter.write(repository, record.attached);
          this.attachedTags.set(record.name, written);
        }
        await this.pushTag(record);
      }
    } finally {
      await (await this.locations).save();
    }
  }

  private async pushTag(record: ImageRecord): Promise<void> {
    const target = this.options.targetOf(record.name);
    const { digest, mediaType } = record.descriptor;
    const repository = target.repository;
    const result: TagResult = {
      name: record.name,
      target: formatReference(target),
      digest,
      status: "new",
    };
    if (!target.tag) {
      const action = this.manifestActions.get(this.key(repository, digest));
      result.status = action === "present" ? "unchanged" : "new";
      result.target = formatReference({ ...target, digest: digest as Reference["digest"] });
      this.tags.push(result);
      return;
    }
    const what = `tag ${formatReference(target)}`;
    const previous = await manifestDigest(this.client, repository, target.tag, what);
    if (previous === digest) {
      result.status = "unchanged";
      this.tags.push(result);
      return;
    }
    const bytes = this.needs.get(digest)?.bytes;
    if (!bytes) {
      throw new FerryError("EINTERNAL", `${what}: the bytes of manifest ${digest} are unknown`);
    }
    const answered = await putManifest(
      this.client,
      repository,
      target.tag,
      { mediaType, digest },
      bytes,
      what,
    );
    if (answered && answered !== digest) {
      throw new FerryError(
        "EREGISTRY",
        `${what}: ${this.client.registry} stored the manifest as ${answered}, not ${digest}`,
        { hint: "the registry rewrote the manifest; check its configuration" },
      );
    }
    if (previous) {
      result.status = "updated";
      result.previous = previous;
    }
    this.tags.push(result);
  }

  /** Cancel live upload sessions; tags were never pushed. */
  async abort(): Promise<void> {
    const live = [...this.live.values()];
    this.live.clear();
    for (const { repository, location } of live) {
      await cancelUpload(this.client, repository, location, this.where(repository));
    }
    await (await this.locations).save();
  }
}
