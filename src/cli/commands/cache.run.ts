import { defaultCacheDir } from "../../cache/blob-cache.js";
import { listCache, parseDuration, pruneCache } from "../../ops/registry-cache.js";
import { createOutput, formatAge, formatSize, formatTable } from "../output.js";
import type { CacheLsFlags, CachePruneFlags } from "./cache.js";

/** `ferry cache ls` (loaded when the command runs: see ./cache.ts). */
export async function runCacheLs(flags: CacheLsFlags): Promise<void> {
  const out = createOutput(flags);
  const listing = await listCache(flags.cache ?? defaultCacheDir());
  out.result(listing, () =>
    [
      formatTable(
        ["DIGEST", "SIZE", "STATE", "LAST USED"],
        [
          ...listing.blobs.map((b) => [
            b.digest,
            formatSize(b.size),
            b.keptIn === undefined ? "complete" : `in ${b.keptIn}`,
            formatAge(b.lastUsed.toISOString()),
          ]),
          ...listing.partials.map((p) => [
            p.digest,
            formatSize(p.size),
            p.busy ? "downloading" : "partial",
            formatAge(p.modified.toISOString()),
          ]),
        ],
      ),
      "",
      `${listing.blobs.length} blobs (${listing.blobs.filter((b) => b.keptIn !== undefined).length} of them read from the bundles they were saved into, not copied) and ${listing.partials.length} partial downloads, ${formatSize(listing.bytes)}, in ${listing.dir}`,
    ].join("\n"),
  );
}

/** `ferry cache prune` (loaded when the command runs: see ./cache.ts). */
export async function runCachePrune(flags: CachePruneFlags): Promise<void> {
  const out = createOutput(flags);
  const result = await pruneCache(flags.cache ?? defaultCacheDir(), {
    ...(flags.all ? { all: true } : {}),
    olderThanMs: parseDuration(flags.olderThan ?? "7d"),
  });
  out.result(
    result,
    () => `removed ${result.removed} entries (${formatSize(result.bytes)}) from ${result.dir}`,
  );
}
