import { Readable } from "node:stream";
import { pumpVerified } from "../digest/verified-pump.js";
import { VerifyingStream } from "../digest/verifying-stream.js";
import { FerryError, InterruptedError, isFerryError, isInterruption } from "../errors.js";
import type { BlobEvent, CopyListener } from "../types/copy-events.js";
import type { Descriptor } from "../types/descriptor.js";
import type { ImageRecord, Sink } from "../types/transport.js";
import {
  announcePrefetch,
  type BlobJob,
  checkRequiredBlobs,
  collectBlobJobs,
  type OmittedBlob,
  recordOf,
  scheduleOrder,
  takeOmitted,
  warmHashers,
} from "./blob-jobs.js";
import { CopyEvents } from "./events.js";
import type { ImagePlan } from "./plan.js";
import { released } from "./released.js";

export type { CopyEvent } from "../types/copy-events.js";
export type { OmittedBlob } from "./blob-jobs.js";

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
  /** Hears every event of the copy (progress displays). */
  onEvent?: CopyListener;
  /**
   * More parties that hear every event of the copy. (A source that wants to hear about its own
   * blobs says so itself: `SourceCapabilities.onBlobEvent`.)
   */
  listeners?: CopyListener[];
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
  /** Blobs a source left out on purpose (see `SourceCapabilities.omitReason`). */
  omitted: OmittedBlob[];
  committed: boolean;
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

/** The event for the engine's check of a blob: verified, or rejected and why. */
function verdictEvent(descriptor: Descriptor, rejection?: FerryError): BlobEvent {
  const { digest, size } = descriptor;
  return rejection
    ? { type: "blob-rejected", digest, code: rejection.code, message: rejection.message }
    : { type: "blob-verified", digest, size };
}

/**
 * Copy planned images (each from its own source) to a sink: blobs (verified as they flow, bounded
 * concurrency, skipping what the sink has), then manifests, then commit. Any failure aborts
 * the sink, so nothing partial becomes visible. What happens is told as it happens: see
 * `CopyEvent` (and `BlobEvent` for each blob's course).
 */
export async function copyImages(
  sink: Sink,
  plans: ImagePlan[],
  options: CopyOptions = {},
): Promise<CopyResult> {
  const events = new CopyEvents([options.onEvent, ...(options.listeners ?? [])]);
  const { kept: jobs, omitted } = takeOmitted(collectBlobJobs(plans));
  const result: CopyResult = {
    images: plans.map(recordOf),
    blobsCopied: 0,
    blobsSkipped: 0,
    bytesCopied: 0,
    bytesSkipped: 0,
    problems: [],
    omitted: omitted.map(({ blob }) => blob),
    committed: false,
  };
  const totalBytes = jobs.reduce((sum, job) => sum + job.descriptor.size, 0);
  events.copy({ type: "start", images: plans.length, blobs: jobs.length, bytes: totalBytes });
  for (const { job, blob } of omitted) {
    const { digest, size, reason } = blob;
    events.blob(job.source, { type: "blob-omit", digest, size, reason });
  }

  let fatal: unknown;
  const active = new Set<Readable>();
  const { signal } = options;
  const stopAll = () => {
    if (fatal === undefined) fatal = signal?.reason;
    for (const stream of active) stream.destroy(fatal as Error);
  };
  signal?.addEventListener("abort", stopAll, { once: true });

  /** Record a blob failure verify mode goes on from; anything else is thrown. */
  const reportOrThrow = (job: BlobJob, error: unknown): void => {
    if (!isReportable(error, options)) throw error;
    result.problems.push(problemOf(job, error));
  };

  /**
   * Where the source reads positionally and the sink takes a writer, copy through the
   * verified pump (reused buffers, no streams): "done", "problem" (recorded), or "no".
   */
  const pumpIfPossible = async (job: BlobJob, what: string): Promise<"done" | "problem" | "no"> => {
    const capabilities = job.source.capabilities;
    if (job.configBytes || !capabilities?.blobReader || !sink.blobWriter) return "no";
    const { descriptor, source } = job;
    const { digest } = descriptor;
    try {
      const reader = await capabilities.blobReader(descriptor);
      if (!reader) return "no";
      const writer = await sink.blobWriter(descriptor).catch(async (error: unknown) => {
        await reader.close().catch(() => {});
        throw error;
      });
      const location = writer.location;
      await pumpVerified(reader, writer, descriptor, what, {
        onBytes: (bytes) => events.blob(source, { type: "blob-progress", digest, bytes }),
        ...(location
          ? {
              onWritten: (bytes: number) =>
                events.blob(source, { type: "blob-landed", digest, location, bytes }),
            }
          : {}),
        onVerdict: (rejection) => events.blob(source, verdictEvent(descriptor, rejection)),
        ...(signal ? { signal } : {}),
      });
      return "done";
    } catch (error) {
      reportOrThrow(job, error);
      return "problem";
    }
  };

  /** The same copy as a stream: source -> verifying stream -> sink. False: a problem (recorded). */
  const streamBlob = async (job: BlobJob, what: string): Promise<boolean> => {
    const { descriptor, source } = job;
    const { digest } = descriptor;
    let input: Readable;
    try {
      input = job.configBytes
        ? Readable.from([job.configBytes])
        : await source.openBlob(descriptor);
    } catch (error) {
      reportOrThrow(job, error);
      return false;
    }
    const verifier = new VerifyingStream(
      descriptor,
      what,
      (bytes) => events.blob(source, { type: "blob-progress", digest, bytes }),
      (rejection) => events.blob(source, verdictEvent(descriptor, rejection)),
    );
    input.on("error", (error) => verifier.destroy(error));
    // The verdict may come before the sink starts reading (small blobs fit in the buffers);
    // the sink still sees the error through its read, so an early one must not crash.
    verifier.on("error", () => {});
    input.pipe(verifier);
    active.add(verifier);
    try {
      await sink.putBlob(descriptor, verifier);
      return true;
    } catch (error) {
      verifier.destroy();
      reportOrThrow(job, error);
      return false;
    } finally {
      active.delete(verifier);
      await released(input);
    }
  };

  const copyBlob = async (job: BlobJob): Promise<void> => {
    const { descriptor, source } = job;
    const { digest, size } = descriptor;
    if (await sink.hasBlob(descriptor)) {
      result.blobsSkipped++;
      result.bytesSkipped += size;
      events.blob(source, { type: "blob-skip", digest, size });
      return;
    }
    events.blob(source, { type: "blob-start", digest, size, role: job.role });
    const what = `blob ${digest} (${job.role})`;
    const pumped = await pumpIfPossible(job, what);
    const copied = pumped === "no" ? await streamBlob(job, what) : pumped === "done";
    if (!copied) return;
    result.blobsCopied++;
    result.bytesCopied += size;
    events.blob(source, { type: "blob-done", digest, size });
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
    events.copy({ type: "commit" });
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
