/**
 * The Range header of a blob request (RFC 9110, section 14). Pure: no I/O.
 *
 * - No header, another unit than `bytes`, or several ranges: the whole blob (a server may
 *   ignore a Range; one range is all a registry client asks for).
 * - `bytes=A-B`, `bytes=A-`, `bytes=-N`: that part, its end cut at the blob's end.
 * - Malformed (`bytes=5-2`, `bytes=x`, numbers of more than 15 digits) or starting at or past
 *   the end (`bytes=-0` too): unsatisfiable, answered 416 with a Content-Range of `*` and the
 *   blob's size.
 */

export type RangeAnswer =
  | { kind: "whole" }
  | { kind: "part"; start: number; end: number }
  | { kind: "unsatisfiable" };

const BYTES = /^bytes=(.*)$/i;
const ONE_RANGE = /^\s*(\d{0,15})-(\d{0,15})\s*$/;

/** `rangeHeader` for a blob of `size` bytes; `end` is inclusive. */
export function parseRange(rangeHeader: string | undefined, size: number): RangeAnswer {
  if (rangeHeader === undefined) return { kind: "whole" };
  const bytes = BYTES.exec(rangeHeader.trim());
  if (!bytes) return { kind: "whole" };
  const specs = (bytes[1] as string).split(",");
  if (specs.length > 1) return { kind: "whole" };
  const match = ONE_RANGE.exec(specs[0] as string);
  if (!match) return { kind: "unsatisfiable" };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "") {
    if (last === "") return { kind: "unsatisfiable" };
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "part", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return { kind: "unsatisfiable" };
  if (last === "") return { kind: "part", start, end: size - 1 };
  const end = Number(last);
  if (end < start) return { kind: "unsatisfiable" };
  return { kind: "part", start, end: Math.min(end, size - 1) };
}
