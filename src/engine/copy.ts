import { Readable } from "node:stream";
import { sharedHashPool, WORKER_MIN_BYTES } from "../digest/hash-pool.js";
import { pumpVerified } from "../digest/verified-pump.js";
import { VerifyingStream } from "../digest/verifying-stream.js";
import { FerryError, InterruptedError, isFerryError, isInterruption } from "../errors.js";
import type { Descriptor } from "../types/descriptor.js";
import type { ImageRecord, Sink, Source } from "../types/transport.js";
import type { ImagePlan, PlannedBlob } from "./plan.js";

export type CopyEvent =
  | { type: "start"; images: number; blobs: number; bytes: number }
  | { type: "blob-start"; digest: string; size: number; role: string }
  | { type: "blob-progress"; digest: string; bytes: number }
  | { type: "blob-done"; digest: string; size: number }
  | { type: "blob-skip"; digest: string; size: number }
  | { type: "blob-omit"; digest: string; size: number; reason: string }
  | { type: "commit" };

/**
 * Optional extras a source may offer the engine (the registry source does both).
 */
export interface SourceHooks {
  /**
   * The blobs this copy will open from the source (those the sink lacks), in copy order, so
   * a network source can download them ahead of a sink that takes one blob at a time.
   */
  prefetch?(descriptors: Descriptor[]): void;
  /**
   * Why the source leaves a blob out on purpose (e.g. `--skip-foreign`), else undefined. Such
   * a blob is not copied; it stays in the image's contents, so a bundle lists it as required.
   */
  omitReason?(descriptor: Descriptor): string | undefined;
}

/** A blob left out on purpose, and why. */
export interface OmittedBlob {
  digest: string;
  size: number;
  mediaType: string;
  reason: string;
  images: string[];
}

/** A blob that failed verification, with the images it belongs to. */
export interface BlobProblem {
  digest: string;
  code: string;
  message: string;
  images: string[];
  expected?: unknown;
  found?: unknown;
}

export interface CopyOptions {
  /** Blob transfers at once (bounded further by the sink). */
  jobs?: number;
  onEvent?: (event: CopyEvent) => void;
  /**
   * Verify mode: a blob that fails verification is recorded and the copy goes on, so every
   * bad blob is reported; the sink is then aborted instead of committed.
   */
  keepGoing?: boolean;
  /**
   * An interruption (the CLI's Ctrl-C/SIGTERM handling): when it aborts, no new blob starts,
   * blobs in flight stop at their next chunk, the sink is aborted (its temporary files removed)
   * and an InterruptedError says so. A commit already under way is finished, not cut.
   */
  signal?: AbortSignal;
}

export interface CopyResult {
  images: ImageRecord[];
  blobsCopied: number;
  blobsSkipped: number;
  bytesCopied: number;
  bytesSkipped: number;
  problems: BlobProblem[];
  /** Blobs a source left out on purpose (see `SourceHooks.omitReason`). */
  omitted: OmittedBlob[];
  committed: boolean;
}

interface BlobJob extends PlannedBlob {
  source: Source;
  images: string[];
  configBytes?: Buffer;
}

function collectBlobJobs(plans: ImagePlan[]): BlobJob[] {
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

function recordOf(plan: ImagePlan): ImageRecord {
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
  return record;
}

function problemOf(job: BlobJob, error: FerryError): BlobProblem {
  const problem: BlobProblem = {
    digest: job.descriptor.digest,
    code: error.code,
    message: error.message,
    images: job.images,
  };
  if (error.details.expected !== undefined) problem.expected = error.details.expected;
  if (error.details.found !== undefined) problem.found = error.details.found;
  return problem;
}

/** Blob failures that verify mode records and goes on from (damage, absence), not I/O failures. */
const REPORTABLE_CODES = new Set(["EINTEGRITY", "ESIZE", "ENOTFOUND", "EBADBUNDLE"]);

function isReportable(error: unknown, options: CopyOptions): error is FerryError {
  return Boolean(options.keepGoing) && isFerryError(error) && REPORTABLE_CODES.has(error.code);
}

/** Run `worker` over `items` with at most `limit` at once; stop taking new items on `stop()`. */
async function runBounded<T>(
  items: T[],
  limit: number,
  worker: (item: T) => Promise<void>,
  shouldStop: () => boolean,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length && !shouldStop()) {
      const item = items[next++] as T;
      await worker(item);
    }
  });
  const results = await Promise.allSettled(lanes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Take the blobs their source leaves out on purpose off the job list. */
function takeOmitted(jobs: BlobJob[]): { kept: BlobJob[]; omitted: OmittedBlob[] } {
  const kept: BlobJob[] = [];
  const omitted: OmittedBlob[] = [];
  for (const job of jobs) {
    const reason = (job.source as Source & SourceHooks).omitReason?.(job.descriptor);
    if (reason === undefined) kept.push(job);
    else {
      const { digest, size, mediaType } = job.descriptor;
      omitted.push({ digest, size, mediaType, reason, images: job.images });
    }
  }
  return { kept, omitted };
}

/** Tell each source that can fetch ahead which of its blobs the sink still needs, in order. */
async function announcePrefetch(sink: Sink, jobs: BlobJob[]): Promise<void> {
  const wanted = new Map<Source & SourceHooks, Descriptor[]>();
  for (const job of jobs) {
    const source = job.source as Source & SourceHooks;
    if (!source.prefetch || job.configBytes || (await sink.hasBlob(job.descriptor))) continue;
    const list = wanted.get(source) ?? [];
    list.push(job.descriptor);
    wanted.set(source, list);
  }
  for (const [source, descriptors] of wanted) source.prefetch?.(descriptors);
}

/** Fail before writing anything when the source lacks blobs the sink does not have either. */
async function checkRequiredBlobs(sink: Sink, jobs: BlobJob[]): Promise<void> {
  const missing: BlobJob[] = [];
  for (const job of jobs) {
    if (job.source.lacksBlob?.(job.descriptor) && !(await sink.hasBlob(job.descriptor))) {
      missing.push(job);
    }
  }
  if (missing.length === 0) return;
  const lines = missing.map((m) => `  ${m.descriptor.digest} (${m.role})`).join("\n");
  throw new FerryError(
    "ENOTFOUND",
    `${missing[0]?.source.label} is a delta: it requires ${missing.length} blob(s) that ${sink.label} lacks:\n${lines}`,
    {
      hint: "load the bundle this delta is based on first, or save a full bundle (without --since)",
      details: { missing: missing.map((m) => ({ digest: m.descriptor.digest, images: m.images })) },
    },
  );
}

/**
 * The order blobs are copied in. A sink that takes one blob at a time (a zip, a tar) gets them
 * in plan order, which is the order they land in. Several at once: largest first, so the
 * biggest layer (one sha256 that cannot be split) starts at once and the small ones fill the
 * other lanes around it instead of leaving one core hashing alone at the end.
 */
function scheduleOrder(jobs: BlobJob[], limit: number): BlobJob[] {
  if (limit <= 1) return jobs;
  return [...jobs].sort((a, b) => b.descriptor.size - a.descriptor.size);
}

/** Start the hash worker threads (tens of milliseconds each) if the copy will use them. */
async function warmHashers(sink: Sink, jobs: BlobJob[], limit: number): Promise<void> {
  if (!sink.blobWriter) return;
  let big = 0;
  for (const job of jobs) {
    if (big >= limit) break;
    if (job.configBytes || !job.source.blobReader || job.descriptor.size < WORKER_MIN_BYTES) {
      continue;
    }
    if (!(await sink.hasBlob(job.descriptor))) big++;
  }
  if (big > 0) sharedHashPool().warm(big);
}

/**
 * Copy planned images (each from its own source) to a sink: blobs (verified as they flow, bounded
 * concurrency, skipping what the sink has), then manifests, then commit. Any failure aborts
 * the sink, so nothing partial becomes visible.
 */
export async function copyImages(
  sink: Sink,
  plans: ImagePlan[],
  options: CopyOptions = {},
): Promise<CopyResult> {
  const emit = options.onEvent ?? (() => {});
  const { kept: jobs, omitted } = takeOmitted(collectBlobJobs(plans));
  const result: CopyResult = {
    images: plans.map(recordOf),
    blobsCopied: 0,
    blobsSkipped: 0,
    bytesCopied: 0,
    bytesSkipped: 0,
    problems: [],
    omitted,
    committed: false,
  };
  const totalBytes = jobs.reduce((sum, job) => sum + job.descriptor.size, 0);
  emit({ type: "start", images: plans.length, blobs: jobs.length, bytes: totalBytes });
  for (const blob of omitted) {
    emit({ type: "blob-omit", digest: blob.digest, size: blob.size, reason: blob.reason });
  }

  let fatal: unknown;
  const active = new Set<Readable>();
  const { signal } = options;
  const stopAll = () => {
    if (fatal === undefined) fatal = signal?.reason;
    for (const stream of active) stream.destroy(fatal as Error);
  };
  signal?.addEventListener("abort", stopAll, { once: true });

  /**
   * Where the source reads positionally and the sink takes a writer, copy through the
   * verified pump (reused buffers, no streams): "done", "problem" (recorded), or "no".
   */
  const pumpIfPossible = async (job: BlobJob, what: string): Promise<"done" | "problem" | "no"> => {
    if (job.configBytes || !job.source.blobReader || !sink.blobWriter) return "no";
    const { descriptor } = job;
    try {
      const reader = await job.source.blobReader(descriptor);
      if (!reader) return "no";
      const writer = await sink.blobWriter(descriptor).catch(async (error: unknown) => {
        await reader.close().catch(() => {});
        throw error;
      });
      if (writer.location) reader.landsAt?.(writer.location);
      await pumpVerified(reader, writer, descriptor, what, {
        onBytes: (bytes) => emit({ type: "blob-progress", digest: descriptor.digest, bytes }),
        ...(signal ? { signal } : {}),
      });
      return "done";
    } catch (error) {
      if (isReportable(error, options)) {
        result.problems.push(problemOf(job, error));
        return "problem";
      }
      throw error;
    }
  };

  const copyBlob = async (job: BlobJob): Promise<void> => {
    const { descriptor } = job;
    if (await sink.hasBlob(descriptor)) {
      result.blobsSkipped++;
      result.bytesSkipped += descriptor.size;
      emit({ type: "blob-skip", digest: descriptor.digest, size: descriptor.size });
      return;
    }
    emit({ type: "blob-start", digest: descriptor.digest, size: descriptor.size, role: job.role });
    const what = `blob ${descriptor.digest} (${job.role})`;
    const pumped = await pumpIfPossible(job, what);
    if (pumped !== "no") {
      if (pumped === "done") {
        result.blobsCopied++;
        result.bytesCopied += descriptor.size;
        emit({ type: "blob-done", digest: descriptor.digest, size: descriptor.size });
      }
      return;
    }
    let input: Readable;
    try {
      input = job.configBytes
        ? Readable.from([job.configBytes])
        : await job.source.openBlob(descriptor);
    } catch (error) {
      if (isReportable(error, options)) {
        result.problems.push(problemOf(job, error));
        return;
      }
      throw error;
    }
    const verifier = new VerifyingStream(descriptor, what, (bytes) =>
      emit({ type: "blob-progress", digest: descriptor.digest, bytes }),
    );
    input.on("error", (error) => verifier.destroy(error));
    // The verdict may come before the sink starts reading (small blobs fit in the buffers);
    // the sink still sees the error through its read, so an early one must not crash.
    verifier.on("error", () => {});
    input.pipe(verifier);
    active.add(verifier);
    try {
      await sink.putBlob(descriptor, verifier);
    } catch (error) {
      input.destroy();
      verifier.destroy();
      if (isReportable(error, options)) {
        result.problems.push(problemOf(job, error));
        return;
      }
      throw error;
    } finally {
      active.delete(verifier);
    }
    result.blobsCopied++;
    result.bytesCopied += descriptor.size;
    emit({ type: "blob-done", digest: descriptor.digest, size: descriptor.size });
  };

  try {
    signal?.throwIfAborted();
    const limit = Math.max(1, Math.min(options.jobs ?? 4, sink.maxConcurrentBlobs));
    const scheduled = scheduleOrder(jobs, limit);
    await checkRequiredBlobs(sink, jobs);
    await warmHashers(sink, scheduled, limit);
    await announcePrefetch(sink, scheduled);
    await runBounded(
      scheduled,
      limit,
      async (job) => {
        try {
          await copyBlob(job);
        } catch (error) {
          if (fatal === undefined) fatal = error;
          for (const stream of active) stream.destroy(new FerryError("EINTERNAL", "cancelled"));
          throw error;
        }
      },
      () => fatal !== undefined,
    );
    signal?.throwIfAborted();
    if (result.problems.length > 0) {
      // Reported in the images' order, whatever order the blobs were copied in.
      const rank = new Map(jobs.map((job, at) => [job.descriptor.digest as string, at]));
      result.problems.sort((a, b) => (rank.get(a.digest) ?? 0) - (rank.get(b.digest) ?? 0));
      await sink.abort();
      return result;
    }
    for (const plan of plans) {
      for (const manifest of plan.manifests) {
        if (!(await sink.hasBlob(manifest.descriptor))) {
          await sink.putManifest(manifest.descriptor, manifest.bytes);
        }
      }
    }
    for (const record of result.images) sink.addImage(record);
    signal?.throwIfAborted();
    emit({ type: "commit" });
    await sink.commit();
    result.committed = true;
    return result;
  } catch (error) {
    const failure = fatal ?? error;
    const aborted = await sink.abort().then(
      () => undefined,
      (abortError: unknown) => abortError,
    );
    if (isInterruption(failure) || signal?.aborted) {
      throw describeInterruption(sink, signal?.reason ?? failure, aborted);
    }
    throw failure;
  } finally {
    signal?.removeEventListener("abort", stopAll);
  }
}

/**
 * The one line an interrupted copy ends with: the state it left (nothing committed, temporary
 * files removed, or which could not be) and what running the command again does.
 */
function describeInterruption(sink: Sink, reason: unknown, abortError: unknown): InterruptedError {
  const signal = isInterruption(reason) ? reason.signal : "SIGINT";
  const cleaned =
    abortError === undefined
      ? "this run's temporary files were removed"
      : `some of this run's temporary files could not be removed (${abortError instanceof Error ? abortError.message : String(abortError)})`;
  return new InterruptedError(
    signal,
    `interrupted by ${signal} before anything was committed: ${sink.label} is as it was before, and ${cleaned}; running the same command again starts over (blobs already at the destination or in the download cache are not transferred again)`,
    { cause: reason },
  );
}
