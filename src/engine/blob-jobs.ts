import { sharedHashPool, WORKER_MIN_BYTES } from "../digest/hash-pool.js";
import { FerryError } from "../errors.js";
import type { Descriptor } from "../types/descriptor.js";
import { isForeignLayerMediaType } from "../types/media-types.js";
import type { ImageRecord, Sink, Source } from "../types/transport.js";
import type { ImagePlan, PlannedBlob } from "./plan.js";

/** One distinct blob a copy takes, the source it comes from, and the images that need it. */
export interface BlobJob extends PlannedBlob {
  source: Source;
  images: string[];
  /** An image config the planner read and checked already: copied from memory. */
  configBytes?: Buffer;
}

/** A blob left out on purpose, and why. */
export interface OmittedBlob {
  digest: string;
  size: number;
  mediaType: string;
  reason: string;
  images: string[];
}

/** Every distinct blob of the plans once, from the first plan that names it. */
export function collectBlobJobs(plans: ImagePlan[]): BlobJob[] {
  const jobs = new Map<string, BlobJob>();
  for (const plan of plans) {
    for (const blob of plan.blobs) {
      const job = jobs.get(blob.descriptor.digest);
      if (job) {
        if (!job.images.includes(plan.name)) job.images.push(plan.name);
        continue;
      }
      const newJob: BlobJob = { ...blob, source: plan.source, images: [plan.name] };
      const configBytes = plan.configBytes.get(blob.descriptor.digest);
      if (configBytes) newJob.configBytes = configBytes;
      jobs.set(blob.descriptor.digest, newJob);
    }
  }
  return [...jobs.values()];
}

/** What the sink is told about a planned image at commit. */
export function recordOf(plan: ImagePlan): ImageRecord {
  const record: ImageRecord = {
    name: plan.name,
    descriptor: plan.root,
    origin: plan.origin,
    platforms: plan.platforms,
    size: plan.size,
    contents: [...plan.manifests, ...plan.blobs].map(({ descriptor }) => ({
      digest: descriptor.digest,
      size: descriptor.size,
      mediaType: descriptor.mediaType,
    })),
  };
  if (plan.sourceIndexDigest) record.sourceIndexDigest = plan.sourceIndexDigest;
  if (plan.annotations) record.annotations = plan.annotations;
  if (plan.attached.length > 0) record.attached = plan.attached;
  if (plan.artifactType) record.artifactType = plan.artifactType;
  return record;
}

/** A blob its source leaves out on purpose, and the job it would have been. */
export interface OmittedJob {
  job: BlobJob;
  blob: OmittedBlob;
}

/** Take the blobs their source leaves out on purpose off the job list. */
export function takeOmitted(jobs: BlobJob[]): { kept: BlobJob[]; omitted: OmittedJob[] } {
  const kept: BlobJob[] = [];
  const omitted: OmittedJob[] = [];
  for (const job of jobs) {
    const reason = job.source.capabilities?.omitReason?.(job.descriptor);
    if (reason === undefined) kept.push(job);
    else {
      const { digest, size, mediaType } = job.descriptor;
      omitted.push({ job, blob: { digest, size, mediaType, reason, images: job.images } });
    }
  }
  return { kept, omitted };
}

/** Tell each source that can fetch ahead which of its blobs the sink still needs, in order. */
export async function announcePrefetch(sink: Sink, jobs: BlobJob[]): Promise<void> {
  const wanted = new Map<Source, Descriptor[]>();
  for (const job of jobs) {
    if (!job.source.capabilities?.prefetch || job.configBytes) continue;
    if (await sink.hasBlob(job.descriptor)) continue;
    const list = wanted.get(job.source) ?? [];
    list.push(job.descriptor);
    wanted.set(job.source, list);
  }
  for (const [source, descriptors] of wanted) source.capabilities?.prefetch?.(descriptors);
}

/** Fail before writing anything when the source lacks blobs the sink does not have either. */
export async function checkRequiredBlobs(sink: Sink, jobs: BlobJob[]): Promise<void> {
  const missing: BlobJob[] = [];
  for (const job of jobs) {
    const lacks = job.source.capabilities?.lacksBlob?.(job.descriptor) ?? false;
    if (lacks && !(await sink.hasBlob(job.descriptor))) missing.push(job);
  }
  if (missing.length === 0) return;
  const lines = missing.map((m) => `  ${m.descriptor.digest} (${m.role})`).join("\n");
  const foreign = missing.filter((m) => isForeignLayerMediaType(m.descriptor.mediaType));
  const label = missing[0]?.source.label;
  const details = {
    missing: missing.map((m) => ({ digest: m.descriptor.digest, images: m.images })),
  };
  if (foreign.length === missing.length) {
    // Not a delta: a save with --skip-foreign left out the Windows layers the manifests fetch
    // from their URLs, and this destination keeps every layer itself.
    throw new FerryError(
      "ENOTFOUND",
      `${label} leaves out ${foreign.length} foreign layer(s) (saved with --skip-foreign) that ${sink.label} lacks:\n${lines}`,
      {
        hint: "save the bundle again without --skip-foreign, or load it into a registry (--to registry:HOST), whose clients fetch foreign layers from their URLs",
        details,
      },
    );
  }
  const also =
    foreign.length > 0
      ? ` (${foreign.length} of them foreign layers left out by --skip-foreign)`
      : "";
  throw new FerryError(
    "ENOTFOUND",
    `${label} is a delta: it requires ${missing.length} blob(s) that ${sink.label} lacks${also}:\n${lines}`,
    {
      hint: "load the bundle this delta is based on first, or save a full bundle (without --since)",
      details,
    },
  );
}

/**
 * The order blobs are copied in. A sink that takes one blob at a time (a zip, a tar) gets them
 * in plan order, which is the order they land in. Several at once: largest first, so the
 * biggest layer (one sha256 that cannot be split) starts at once and the small ones fill the
 * other lanes around it instead of leaving one core hashing alone at the end.
 */
export function scheduleOrder(jobs: BlobJob[], limit: number): BlobJob[] {
  if (limit <= 1) return jobs;
  return [...jobs].sort((a, b) => b.descriptor.size - a.descriptor.size);
}

/** Start the hash worker threads (tens of milliseconds each) if the copy will use them. */
export async function warmHashers(sink: Sink, jobs: BlobJob[], limit: number): Promise<void> {
  if (!sink.blobWriter) return;
  let big = 0;
  for (const job of jobs) {
    if (big >= limit) break;
    if (job.configBytes || !job.source.capabilities?.blobReader) continue;
    if (job.descriptor.size < WORKER_MIN_BYTES) continue;
    if (!(await sink.hasBlob(job.descriptor))) big++;
  }
  if (big > 0) sharedHashPool().warm(big);
}
