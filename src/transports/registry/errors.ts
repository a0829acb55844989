import { type ErrorCode, FerryError, type FerryErrorOptions } from "../../errors.js";

export interface RegistryErrorOptions extends FerryErrorOptions {
  /** True when the same request may succeed later (connection errors, 5xx, 429, a stall). */
  transient?: boolean;
  /** How long the server asked us to wait (429/503 Retry-After), in ms. */
  retryAfterMs?: number;
  /** The HTTP status, when the error is a response. */
  status?: number;
}

/**
 * A failure talking to a registry or a blob URL. `transient` tells the retry loop whether
 * trying again may help. Messages name the registry (and the image or blob) and never carry
 * a secret: URLs are shown without their query string.
 */
export class RegistryError extends FerryError {
  readonly transient: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options: RegistryErrorOptions = {}) {
    const { transient, retryAfterMs, status, ...rest } = options;
    super(code, message, rest);
    this.transient = transient ?? false;
    this.retryAfterMs = retryAfterMs;
    this.status = status;
  }
}

/** Whether an error is worth retrying. */
export function isTransient(error: unknown): boolean {
  return error instanceof RegistryError && error.transient;
}
