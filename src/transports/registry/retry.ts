import { setTimeout as sleep } from "node:timers/promises";
import { isTransient, RegistryError } from "./errors.js";

/** How hard to try again after transient failures. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 = try once). */
  retries: number;
  /** The first backoff; each further one doubles, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest Retry-After ferry honours; a longer one fails instead of hanging. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 5,
  baseDelayMs: 250,
  maxDelayMs: 15_000,
  maxRetryAfterMs: 120_000,
};

/** HTTP statuses worth another try: timeouts, throttling, server and gateway errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 504);
}

/**
 * Parse a Retry-After header: delta seconds or an HTTP date. Returns ms, or undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}

/**
 * The wait before retry number `retry` (0-based): exponential with "equal jitter"
 * (half fixed, half random) so that many clients do not retry in step; a server's
 * Retry-After wins when it is longer.
 */
export function backoffDelay(
  retry: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const jittered = exponential / 2 + (random() * exponential) / 2;
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** What the retry loop tells its observer before it waits. */
export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: RegistryError;
}

/**
 * Run `attempt` until it succeeds, fails with a non-transient error, or the retries are used
 * up (then the last error is thrown, with the number of attempts in its message).
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (attemptNumber: number) => Promise<T>,
  options: { signal?: AbortSignal; onRetry?: (notice: RetryNotice) => void } = {},
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(retry + 1);
    } catch (error) {
      if (!isTransient(error) || options.signal?.aborted) throw error;
      const registryError = error as RegistryError;
      if (retry >= policy.retries) throw exhausted(registryError, retry + 1);
      if ((registryError.retryAfterMs ?? 0) > policy.maxRetryAfterMs) {
        throw exhausted(registryError, retry + 1);
      }
      const delayMs = backoffDelay(retry, policy, registryError.retryAfterMs);
      options.onRetry?.({ attempt: retry + 1, delayMs, error: registryError });
      await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
}

/** The last transient error, saying how many attempts were made. */
export function exhausted(error: RegistryError, attempts: number): RegistryError {
  if (attempts <= 1) return error;
  return new RegistryError(error.code, `${error.message} (gave up after ${attempts} attempts)`, {
    hint: error.hint ?? "the network or the registry is unwell: run the same command again later",
    details: error.details,
    cause: error,
    ...(error.status === undefined ? {} : { status: error.status }),
  });
}
