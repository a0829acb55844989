/**
 * `n` and `last` on the tags list and the catalog (distribution's pagination): the entries
 * sorted, those after `last`, at most `n` of them, and a `Link` header to the next page when
 * entries are left. Without `n`, every entry. Pure: no I/O.
 */

import { DistributionError } from "./distribution-error.js";

/** The most entries one page holds, whatever `n` asks for (the Link header gives the rest). */
export const PAGE_MAX = 1000;

export interface Page {
  items: string[];
  /** `</v2/...?last=X&n=N>; rel="next"` when entries are left after this page. */
  link?: string;
}

function pageSize(n: string | undefined): number | undefined {
  if (n === undefined) return undefined;
  if (!/^\d{1,9}$/.test(n)) {
    throw new DistributionError(
      "PAGINATION_NUMBER_INVALID",
      "invalid number of results requested: n must be a whole number from 0 up",
    );
  }
  return Math.min(Number(n), PAGE_MAX);
}

/** The page of `sorted` that `n` and `last` ask for; `path` is the endpoint's path. */
export function paginate(
  sorted: readonly string[],
  query: { n?: string; last?: string },
  path: string,
): Page {
  const size = pageSize(query.n);
  const last = query.last;
  const after = last === undefined ? sorted : sorted.filter((item) => item > last);
  if (size === undefined) return { items: [...after] };
  const items = after.slice(0, size);
  if (items.length === 0 || after.length <= size) return { items };
  const next = items[items.length - 1] as string;
  return {
    items,
    link: `<${path}?last=${encodeURIComponent(next)}&n=${size}>; rel="next"`,
  };
}
