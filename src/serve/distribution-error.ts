/**
 * The errors `ferry serve` answers with, in the distribution API's JSON shape:
 * `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"...","detail":{...}}]}`. Pure: no I/O.
 */

/** The codes ferry serve uses, and the HTTP status each one goes with. */
export const DISTRIBUTION_ERRORS = {
  /** A repository NAME that breaks the grammar. */
  NAME_INVALID: 400,
  /** A repository the store does not hold (or a NAME several stored repositories answer to). */
  NAME_UNKNOWN: 404,
  /** A tag or manifest digest that the repository does not hold. */
  MANIFEST_UNKNOWN: 404,
  /** A blob the store does not hold. */
  BLOB_UNKNOWN: 404,
  /** A digest that is not `sha256:` and 64 lower-case hex characters. */
  DIGEST_INVALID: 400,
  /** A tag that breaks the grammar (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`). */
  TAG_INVALID: 400,
  /** `n` that is not a whole number from 0 up. */
  PAGINATION_NUMBER_INVALID: 400,
  /** A Range header that is malformed or starts past the blob's end. */
  RANGE_INVALID: 416,
  /** Anything that would write (push, delete, uploads), or a method other than GET and HEAD. */
  UNSUPPORTED: 405,
  /** A path that is no endpoint of the distribution API. */
  NOT_FOUND: 404,
  /** The store could not be read, or holds a damaged file: see the server's log. */
  UNKNOWN: 500,
} as const;

export type DistributionErrorCode = keyof typeof DISTRIBUTION_ERRORS;

/** One error answer; `status` follows from the code unless given. */
export class DistributionError extends Error {
  readonly status: number;

  constructor(
    readonly code: DistributionErrorCode,
    message: string,
    readonly detail?: Record<string, unknown>,
    /** Extra response headers (`Allow`, `Content-Range`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "DistributionError";
    this.status = DISTRIBUTION_ERRORS[code];
  }

  /** The response body. */
  body(): Buffer {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.detail !== undefined) error.detail = this.detail;
    return Buffer.from(`${JSON.stringify({ errors: [error] })}\n`);
  }
}
