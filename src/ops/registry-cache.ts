import { BlobCache, type CachedBlob, type CachedPartial } from "../cache/blob-cache.js";
import { UsageError } from "../errors.js";

export interface CacheListing {
  dir: string;
  blobs: CachedBlob[];
  partials: CachedPartial[];
  bytes: number;
}

/** What the download cache holds. */
export async function listCache(dir: string): Promise<CacheListing> {
  const cache = await BlobCache.open(dir);
  const { blobs, partials } = await cache.list();
  // Bytes the cache itself holds: blobs kept in bundles take no space here.
  const copies = blobs.filter((blob) => blob.keptIn === undefined);
  const bytes = [...copies, ...partials].reduce((sum, entry) => sum + entry.size, 0);
  return { dir: cache.dir, blobs, partials, bytes };
}

/** Parse `30d`, `12h`, `45m`, `90s` or `0` into ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhdw]?)$/.exec(text.trim());
  if (!match)
    throw new UsageError(`${text} is not a duration`, { hint: "write it like 7d, 12h, 30m or 0" });
  const units: Record<string, number> = {
    "": 1000,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
  };
  return Number(match[1]) * (units[match[2] ?? ""] ?? 1000);
}

/**
 * Remove cached blobs not used for `olderThanMs` and cut downloads not touched for as long
 * (everything with `all`). Downloads another live ferry is writing are left alone.
 */
export async function pruneCache(
  dir: string,
  options: { all?: boolean; olderThanMs?: number },
): Promise<{ dir: string; removed: number; bytes: number }> {
  const cache = await BlobCache.open(dir);
  return { dir: cache.dir, ...(await cache.prune(options)) };
}
