import { setTimeout as sleep } from "node:timers/promises";
import { FerryError, SizeError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { redactUrl } from "../../types/url.js";
import type { DownloadTarget } from "./download-pipe.js";
import { isTransient, RegistryError } from "./errors.js";
import { discardBody, type HttpResponse, headerValue, networkError } from "./http.js";
import { describeSlowWindow, type MinRate, RateFloor } from "./min-rate.js";
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
  /** The slowest a body may arrive (see `RateFloor`); undefined: only the stall timeout. */
  minRate?: MinRate;
}

/** What a download did, for summaries and tests. */
export interface DownloadOutcome {
  /** Bytes that came over the network. */
  bytesFetched: number;
  /** Where the download resumed from (0 = from the start). */
  resumedFrom: number;
  attempts: number;
  /** The origin that sent the last bytes (its label). */
  origin?: string;
}

const WRITE_BATCH = 1024 * 1024;
/** Progress that resets the retry budget: a slow, flaky link that moves forward is not dead. */
const PROGRESS_RESETS_RETRIES = 1024 * 1024;
const MAX_ATTEMPTS = 200;

/** Batch buffers a raw body is read into (each reused once its write is done). */
const FILL_SLOTS = 3;

/**
 * Bytes of a single attempt over a raw connection: the socket fills 1 MiB batch buffers in
 * place (no allocation per read), all of them waiting for bytes at once, each appended to the
 * partial as it fills and then offered again. Throws transient errors for a cut or stalled
 * connection (what arrived is kept, to resume from).
 */
async function receiveFilled(
  partial: DownloadTarget,
  descriptor: Descriptor,
  response: HttpResponse,
  fill: NonNullable<HttpResponse["body"]["fill"]>,
  what: string,
  options: DownloadOptions,
): Promise<number> {
  const expected = descriptor.size - partial.length;
  // A little more room than expected, to catch a body longer than declared.
  const slotBytes = Math.max(1, Math.min(WRITE_BATCH, expected + 1));
  const buffers = Array.from({ length: FILL_SLOTS }, () => Buffer.allocUnsafe(slotBytes));
  const fills: Array<Promise<number>> = [];
  const offer = (slot: number): void => {
    const filling = fill(buffers[slot] as Buffer, 0, slotBytes);
    filling.catch(() => {});
    fills[slot] = filling;
  };
  /** Settles when a slot is offered again (its bytes written). */
  const offered: Array<Promise<void>> = [];
  for (let slot = 0; slot < FILL_SLOTS; slot++) {
    offer(slot);
    offered[slot] = Promise.resolve();
  }
  let writing: Promise<void> = Promise.resolve();
  let received = 0;
  let ended = false;
  const floor = rateFloor(response, options);
  try {
    for (let slot = 0; ; slot = (slot + 1) % FILL_SLOTS) {
      await offered[slot];
      const count = await floor.wait(fills[slot] as Promise<number>, (n) => n);
      if (count === 0) break;
      if (received + count > expected) {
        response.body.destroy();
        throw new SizeError(what, descriptor.size, partial.length + received + count, {
          details: { digest: descriptor.digest },
          hint: "the registry sent more bytes than the manifest declares: nothing was kept",
        });
      }
      received += count;
      options.onBytes?.(count);
      const view = (buffers[slot] as Buffer).subarray(0, count);
      const at = slot;
      writing = writing.then(() => partial.append([view]));
      const again = writing.then(() => {
        if (!ended) offer(at);
      });
      again.catch(() => {});
      offered[slot] = again;
    }
  } catch (error) {
    ended = true;
    response.body.destroy();
    // A failed write is the error to report (a full disk), else keep what arrived.
    await writing;
    if (error instanceof FerryError && !(error instanceof RegistryError)) throw error;
    throw networkError(error, response.url, response.route);
  }
  ended = true;
  await writing;
  failIfShort(what, partial.length, descriptor.size);
  return received;
}

/**
 * Bytes of a single attempt over node:http, appended to the partial in batches of 1 MiB, one
 * write in flight while the next batch arrives; throws transient errors for a cut or stalled
 * connection (what arrived before the cut is kept, to resume from).
 */
async function receive(
  partial: DownloadTarget,
  descriptor: Descriptor,
  response: HttpResponse,
  what: string,
  options: DownloadOptions,
): Promise<number> {
  const fill = response.body.fill?.bind(response.body);
  if (fill) return receiveFilled(partial, descriptor, response, fill, what, options);
  const start = partial.length;
  let received = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let writing: Promise<void> = Promise.resolve();
  const floor = rateFloor(response, options);
  const reads = response.body[Symbol.asyncIterator]();
  const flush = (): void => {
    if (batchBytes === 0) return;
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    writing = writing.then(() => partial.append(chunks));
  };
  try {
    while (true) {
      const next = await floor.wait(reads.next(), (r) => (r.done ? 0 : r.value.length));
      if (next.done) break;
      const buffer = next.value as Buffer;
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
        await writing;
        flush();
      }
    }
  } catch (error) {
    response.body.destroy();
    // A failed write is the error to report (a full disk), else keep what arrived.
    await writing;
    if (!(error instanceof SizeError)) {
      flush();
      await writing;
    }
    if (error instanceof FerryError && !(error instanceof RegistryError)) throw error;
    throw networkError(error, response.url, response.route);
  }
  flush();
  await writing;
  failIfShort(what, partial.length, descriptor.size);
  return received;
}

/** The speed floor for one response's body: too slow is a transient network error (resumed). */
function rateFloor(response: HttpResponse, options: DownloadOptions): RateFloor {
  return new RateFloor(
    options.minRate,
    (window) =>
      new RegistryError("ENETWORK", `${redactUrl(response.url)}: ${describeSlowWindow(window)}`, {
        transient: true,
        hint: "the server sends too slowly: run the same command again later (it resumes), or lower --min-rate if the link is this slow",
        details: { host: response.url.host },
      }),
  );
}

/**
 * A network error of one blob's download, naming the blob and where it came from (`what`),
 * unless it already does.
 */
function aboutBlob(error: unknown, what: string): unknown {
  if (!(error instanceof RegistryError) || error.message.includes(what)) return error;
  return new RegistryError(error.code, `${what}: ${error.message}`, {
    transient: error.transient,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.hint ? { hint: error.hint } : {}),
    details: error.details,
    cause: error,
  });
}

/** The body ended: fewer bytes than the blob has is a cut connection (retried, resumed). */
function failIfShort(what: string, have: number, size: number): void {
  if (have < size) {
    throw new RegistryError(
      "ENETWORK",
      `${what}: the connection ended after ${have} of ${size} bytes`,
      { transient: true },
    );
  }
}

/** Check a response's status and headers against where the partial stands. */
async function acceptResponse(
  partial: DownloadTarget,
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
  partial: DownloadTarget,
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
    } catch (caught) {
      const error = aboutBlob(caught, options.what);
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
 * Fetch a blob into a partial file until it holds `size` bytes. The bytes are not hashed here:
 * the copy engine hashes them as it reads the partial (while it grows, or later), and the
 * session publishes the file into the cache only after that verdict (see `RegistrySession`).
 * More bytes than declared fail with ESIZE at once and the partial is emptied. Several origins
 * (a foreign layer's URLs, then the registry) are tried in order; transient failures stay
 * within one origin's retry budget.
 */
export async function downloadBlob(
  partial: DownloadTarget,
  descriptor: Descriptor,
  origins: BlobOrigin[],
  options: DownloadOptions,
): Promise<DownloadOutcome> {
  const outcome: DownloadOutcome = { bytesFetched: 0, resumedFrom: partial.length, attempts: 0 };
  if (partial.length === descriptor.size) {
    // An earlier run downloaded it all but no copy verified it: the engine checks it now.
    outcome.origin = "a download an earlier run left in the cache";
    return outcome;
  }
  const errors: Error[] = [];
  for (let i = 0; i < origins.length; i++) {
    const origin = origins[i] as BlobOrigin;
    try {
      await downloadFrom(origin, partial, descriptor, options, outcome);
      outcome.origin = origin.label;
      return outcome;
    } catch (error) {
      // Nothing of a blob served too long is kept (bytes already passed on: see DownloadPipe).
      if (error instanceof SizeError) await partial.reset().catch(() => {});
      if (options.signal.aborted || i === origins.length - 1) {
        if (errors.length > 0 && error instanceof Error) throw withEarlierErrors(error, errors);
        throw error;
      }
      errors.push(error as Error);
    }
  }
  throw new FerryError("EINTERNAL", `${options.what}: no origin to download from`);
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
