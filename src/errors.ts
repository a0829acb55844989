/**
 * Every error ferry raises on purpose is a FerryError with a stable `code`.
 * The CLI maps codes to exit codes (docs/errors.md); nothing else exits.
 * Messages name the thing at fault and, where there is one, what to do next (`hint`).
 */

import { redactUrlsIn, redactUrlsInValue } from "./types/url.js";

export const EXIT_CODES = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  INTEGRITY: 3,
  NOT_FOUND: 4,
  AUTH: 5,
  TRUST: 6,
  LOCKED: 7,
  IO: 8,
  NETWORK: 9,
  CONFLICT: 10,
  /** `rmi` refused: the image is still used (a base of other images) or needs --force. */
  REFUSED: 11,
  /** 128 + the signal's number, as shells report it: SIGINT (Ctrl-C, and Ctrl-Break on Windows). */
  INTERRUPTED: 130,
  /** SIGTERM. */
  TERMINATED: 143,
  /** SIGHUP (the terminal went away; on Windows, the console window was closed). */
  HANGUP: 129,
} as const;

export type ErrorCode =
  | "EUSAGE"
  | "EINTEGRITY"
  | "ESIZE"
  | "EBADBUNDLE"
  | "EBADIMAGE"
  | "EBADWIM"
  | "EBADSTORE"
  | "EBADREF"
  | "ENOTFOUND"
  | "EUNAUTHORIZED"
  | "EDENIED"
  | "ETRUST"
  | "ELOCKED"
  | "ENOSPC"
  | "EIO"
  | "ENETWORK"
  | "EREGISTRY"
  | "EENGINE"
  | "ECONFLICT"
  | "EUNSUPPORTED"
  | "EDOWNGRADE"
  | "EREFUSED"
  | "EINTERRUPTED"
  | "EINTERNAL";

const EXIT_BY_CODE: Record<ErrorCode, number> = {
  EUSAGE: EXIT_CODES.USAGE,
  EBADREF: EXIT_CODES.USAGE,
  EUNSUPPORTED: EXIT_CODES.USAGE,
  EINTEGRITY: EXIT_CODES.INTEGRITY,
  ESIZE: EXIT_CODES.INTEGRITY,
  EBADBUNDLE: EXIT_CODES.INTEGRITY,
  EBADIMAGE: EXIT_CODES.INTEGRITY,
  EBADWIM: EXIT_CODES.INTEGRITY,
  EBADSTORE: EXIT_CODES.INTEGRITY,
  ENOTFOUND: EXIT_CODES.NOT_FOUND,
  EUNAUTHORIZED: EXIT_CODES.AUTH,
  EDENIED: EXIT_CODES.AUTH,
  ETRUST: EXIT_CODES.TRUST,
  ELOCKED: EXIT_CODES.LOCKED,
  ENOSPC: EXIT_CODES.IO,
  EIO: EXIT_CODES.IO,
  ENETWORK: EXIT_CODES.NETWORK,
  EREGISTRY: EXIT_CODES.NETWORK,
  EENGINE: EXIT_CODES.NETWORK,
  ECONFLICT: EXIT_CODES.CONFLICT,
  EDOWNGRADE: EXIT_CODES.TRUST,
  EREFUSED: EXIT_CODES.REFUSED,
  EINTERRUPTED: EXIT_CODES.INTERRUPTED,
  EINTERNAL: EXIT_CODES.INTERNAL,
};

export interface FerryErrorOptions {
  /** What the user can do next. */
  hint?: string;
  /** Machine-readable facts (digest, expected, found, entry, image...). Never secrets. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    // URLs lose their user info and query here, whoever built the message (Node's own error
    // texts quote whole URLs): nothing printed, logged or put in --json carries those secrets.
    super(
      redactUrlsIn(message),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "FerryError";
    this.code = code;
    this.hint = options.hint === undefined ? undefined : redactUrlsIn(options.hint);
    this.details = redactUrlsInValue(options.details ?? {});
  }

  get exitCode(): number {
    return EXIT_BY_CODE[this.code];
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

/** Bytes whose sha256 differs from the digest that names them. */
export class IntegrityError extends FerryError {
  constructor(what: string, expected: string, found: string, options: FerryErrorOptions = {}) {
    super("EINTEGRITY", `${what}: digest mismatch (expected ${expected}, found ${found})`, {
      ...options,
      details: { ...options.details, expected, found },
    });
  }
}

/** Bytes whose length differs from the size that was declared for them. */
export class SizeError extends FerryError {
  constructor(what: string, expected: number, found: number, options: FerryErrorOptions = {}) {
    super("ESIZE", `${what}: size mismatch (expected ${expected} bytes, found ${found})`, {
      ...options,
      details: { ...options.details, expected, found },
    });
  }
}

export class UsageError extends FerryError {
  constructor(message: string, options: FerryErrorOptions = {}) {
    super("EUSAGE", message, options);
  }
}

export class NotFoundError extends FerryError {
  constructor(message: string, options: FerryErrorOptions = {}) {
    super("ENOTFOUND", message, options);
  }
}

/** A bundle whose structure is wrong or hostile (names, sizes, listing). */
export class BadBundleError extends FerryError {
  /** Every problem found, when more than one was collected. */
  readonly problems: BundleProblem[];
  constructor(message: string, problems: BundleProblem[] = [], options: FerryErrorOptions = {}) {
    super("EBADBUNDLE", message, {
      ...options,
      details: { ...options.details, ...(problems.length ? { problems } : {}) },
    });
    this.problems = problems;
  }
}

export interface BundleProblem {
  /** A zip entry name, a blob digest or a volume file name. */
  subject: string;
  code: ErrorCode;
  message: string;
  /** The images whose content the subject belongs to, when known. */
  images?: string[];
}

/** The signals that stop ferry cleanly, and the exit code each gives. */
export const INTERRUPT_EXIT_CODES = {
  SIGINT: EXIT_CODES.INTERRUPTED,
  SIGBREAK: EXIT_CODES.INTERRUPTED,
  SIGTERM: EXIT_CODES.TERMINATED,
  SIGHUP: EXIT_CODES.HANGUP,
} as const;

export type InterruptSignal = keyof typeof INTERRUPT_EXIT_CODES;

/**
 * The command was stopped by a signal (Ctrl-C, SIGTERM, SIGHUP; Ctrl-Break on Windows). The
 * message says what state things were left in and what running the command again does; the
 * exit code is 128 + the signal's number (130, 143, 129; Ctrl-Break counts as Ctrl-C).
 */
export class InterruptedError extends FerryError {
  constructor(
    readonly signal: InterruptSignal,
    message = `interrupted by ${signal}`,
    options: FerryErrorOptions = {},
  ) {
    super("EINTERRUPTED", message, { ...options, details: { ...options.details, signal } });
    this.name = "InterruptedError";
  }

  override get exitCode(): number {
    return INTERRUPT_EXIT_CODES[this.signal];
  }
}

export function isInterruption(error: unknown): error is InterruptedError {
  return error instanceof InterruptedError;
}

export function isFerryError(error: unknown): error is FerryError {
  return error instanceof FerryError;
}

/** Translate an operating-system error into a FerryError that names the path. */
export function fromSystemError(error: unknown, path: string, action: string): FerryError {
  if (error instanceof FerryError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new FerryError("ENOSPC", `${action} ${path}: no space left on device`, {
      hint: "free some space (or choose another location) and run the same command again",
      cause: error,
    });
  }
  if (code === "ENOENT") {
    return new NotFoundError(`${action} ${path}: no such file or directory`, { cause: error });
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new FerryError("EIO", `${action} ${path}: permission denied (${code})`, {
      hint: "check the permissions of the path, or run as a user who may write there",
      cause: error,
    });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new FerryError("EIO", `${action} ${path}: ${detail}`, { cause: error });
}
