import { setTimeout as sleep } from "node:timers/promises";
import type { BlobCache } from "../../cache/blob-cache.js";
import type { PartialFile } from "../../cache/partial-file.js";
import { FerryError, IntegrityError, SizeError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { isTransient, RegistryError } from "./errors.js";
import { discardBody, type HttpResponse, headerValue, networkError } from "./http.js";
import { backoffDelay, exhausted, type RetryPolicy } from "./retry.js";

/** Somewhere a blob can be downloaded from: the registry, or a foreign layer's URL. */
export interface BlobOrigin {
  /** For messages: `127.0.0.1:5000/repo` or a URL without its query. */
  label: string;
  /** Start a GET at byte `start` (a Range request when > 0). */
  open(start: number, signal: AbortSignal): Promise<HttpResponse>;
}

export interface DownloadOptions {
  retry: RetryPolicy;
  signal: AbortSignal;
  /** The blob and what it belongs to, for messages: `blob sha256:... of host/repo:tag`. */
  what: string;
  /** Network bytes as they arrive. */
  onBytes?: (count: number) => void;
  /** A retry or a resume is about to happen (for notes). */
  onRetry?: (text: string) => void;
}

/** What a download did, for summaries and tests. */
export interface DownloadOutcome {
  /** Bytes that came over the network. */
  bytesFetched: number;
  /** Where the download resumed from (0 = from the start). */
  resumedFrom: number;
  attempts: number;
}

const WRITE_BATCH = 1024 * 1024;
/** Progress that resets the retry budget: a slow, flaky link that moves forward is not dead. */
const PROGRESS_RESETS_RETRIES = 1024 * 1024;
const MAX_ATTEMPTS = 200;

/** Bytes of a single attempt; throws transient errors for a cut or stalled connection. */
async function receive(
  partial: PartialFile,
  descriptor: Descriptor,
  response: HttpResponse,
  what: string,
  options: DownloadOptions,
): Promise<number> {
  const start = partial.length;
  let received = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  try {
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      if (start + received + buffer.length > descriptor.size) {
        response.body.destroy();
        throw new SizeError(what, descriptor.size, start + received + buffer.length, {
          details: { digest: descriptor.digest },
          hint: "the registry sent more bytes than the manifest declares: nothing was kept",
        });
      }
      received += buffer.length;
      options.onBytes?.(buffer.length);
      batch.push(buffer);
      batchBytes += buffer.length;
      if (batchBytes >= WRITE_BATCH) {
        await partial.append(batch);
        batch = [];
        batchBytes = 0;
      }
    }
  } catch (error) {
    await partial.append(batch);
    if (error instanceof FerryError && !(error instanceof RegistryError)) throw error;
    throw networkError(error, response.url);
  }
  await partial.append(batch);
  if (partial.length < descriptor.size) {
    throw new RegistryError(
      "ENETWORK",
      `${what}: the connection ended after ${partial.length} of ${descriptor.size} bytes`,
      { transient: true },
    );
  }
  return received;
}

/** Check a response's status and headers against where the partial stands. */
async function acceptResponse(
  partial: PartialFile,
  descriptor: Descriptor,
  response: HttpResponse,
  what: string,
): Promise<"receive" | "complete"> {
  const start = partial.length;
  if (response.status === 416) {
    await discardBody(response);
    if (start === descriptor.size) return "complete";
    await partial.reset();
    throw new RegistryError("EREGISTRY", `${what}: range request refused; starting over`, {
      transient: true,
    });
  }
  if (start > 0 && response.status === 200) await partial.reset();
  if (response.status === 206) {
    const range = headerValue(response.headers, "content-range") ?? "";
    const from = Number(/^bytes (\d+)-/.exec(range)?.[1]);
    if (from !== start) {
      await discardBody(response);
      await partial.reset();
      throw new RegistryError(
        "EREGISTRY",
        `${what}: the server answered a different range (${range}); starting over`,
        {
          transient: true,
        },
      );
    }
  }
  const length = Number(headerValue(response.headers, "content-length"));
  const expected = descriptor.size - partial.length;
  if (headerValue(response.headers, "content-length") !== undefined && length !== expected) {
    response.body.destroy();
    throw new SizeError(what, descriptor.size, partial.length + length, {
      details: { digest: descriptor.digest },
      hint: "the server offered a different number of bytes than the manifest declares: nothing was kept",
    });
  }
  return "receive";
}

/**
 * Download one origin into the partial, resuming with Range requests after cuts and stalls,
 * retrying transient failures with backoff (progress of 1 MiB or more resets the budget).
 */
async function downloadFrom(
  origin: BlobOrigin,
  partial: PartialFile,
  descriptor: Descriptor,
  options: DownloadOptions,
  outcome: DownloadOutcome,
): Promise<void> {
  const what = `${options.what} from ${origin.label}`;
  let retry = 0;
  while (true) {
    outcome.attempts++;
    const before = partial.length;
    try {
      if (before > 0 && outcome.attempts > 1)
        options.onRetry?.(`${what}: resuming at byte ${before}`);
      const response = await origin.open(before, options.signal);
      if ((await acceptResponse(partial, descriptor, response, what)) === "complete") return;
      outcome.bytesFetched += await receive(partial, descriptor, response, what, options);
      return;
    } catch (error) {
      if (!isTransient(error) || options.signal.aborted) throw error;
      const registryError = error as RegistryError;
      if (partial.length - before >= PROGRESS_RESETS_RETRIES) retry = 0;
      if (retry >= options.retry.retries || outcome.attempts >= MAX_ATTEMPTS) {
        throw exhausted(registryError, outcome.attempts);
      }
      if ((registryError.retryAfterMs ?? 0) > options.retry.maxRetryAfterMs) throw registryError;
      const delay = backoffDelay(retry++, options.retry, registryError.retryAfterMs);
      options.onRetry?.(`${registryError.message}; retrying in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, undefined, { signal: options.signal }).catch(() => {
        throw registryError;
      });
    }
  }
}

/**
 * Fetch a blob into the cache: the bytes are hashed once, as they are written to a partial
 * file; only a complete download whose sha256 and size match is published under its digest.
 * A resumed download whose result does not match starts over once from byte 0 (the cut may
 * have left bad bytes); wrong bytes from a fresh download fail with EINTEGRITY naming the blob
 * and are deleted. Several origins (a foreign layer's URLs, then the registry) are tried in
 * order; transient failures stay within one origin's retry budget.
 */
export async function downloadToCache(
  cache: BlobCache,
  descriptor: Descriptor,
  origins: BlobOrigin[],
  options: DownloadOptions,
): Promise<DownloadOutcome> {
  const claim = await cache.claimPartial(descriptor);
  const outcome: DownloadOutcome = { bytesFetched: 0, resumedFrom: claim.file.length, attempts: 0 };
  let release: "published" | "keep" | "discard" = "keep";
  try {
    let restarted = false;
    const errors: Error[] = [];
    for (let i = 0; i < origins.length; i++) {
      const origin = origins[i] as BlobOrigin;
      try {
        await downloadFrom(origin, claim.file, descriptor, options, outcome);
      } catch (error) {
        if (error instanceof SizeError) await claim.file.reset();
        if (options.signal.aborted || i === origins.length - 1) {
          if (errors.length > 0 && error instanceof Error) throw withEarlierErrors(error, errors);
          throw error;
        }
        errors.push(error as Error);
        continue;
      }
      const found = claim.file.digest();
      if (found === descriptor.digest && claim.file.length === descriptor.size) {
        release = "published";
        return outcome;
      }
      await claim.file.reset();
      if (!restarted) {
        restarted = true;
        options.onRetry?.(
          `${options.what}: wrong bytes from ${origin.label} (sha256 ${found}); downloading again from the start`,
        );
        i--;
        continue;
      }
      release = "discard";
      throw new IntegrityError(`${options.what} from ${origin.label}`, descriptor.digest, found, {
        hint: "the server sent bytes that do not match the digest (twice): nothing was kept; try again later or report it to the registry's owner",
        details: { digest: descriptor.digest },
      });
    }
    throw new FerryError("EINTERNAL", `${options.what}: no origin to download from`);
  } finally {
    if (release === "keep" && claim.file.length === 0) release = "discard";
    await claim.release(release);
  }
}

function withEarlierErrors(last: Error, earlier: Error[]): Error {
  if (!(last instanceof FerryError)) return last;
  const tried = earlier.map((e) => `  ${e.message}`).join("\n");
  return new FerryError(last.code, `${last.message}\nearlier attempts:\n${tried}`, {
    ...(last.hint ? { hint: last.hint } : {}),
    details: last.details,
    cause: last,
  });
}
