import type { Command } from "commander";
import { defaultCacheDir } from "../../cache/blob-cache.js";
import { listCache, parseDuration, pruneCache } from "../../ops/registry-cache.js";
import { createOutput, formatAge, formatSize, formatTable } from "../output.js";

export function registerCache(program: Command): void {
  const cache = program
    .command("cache")
    .description(
      "the download cache that save and pull keep (verified blobs and resumable downloads)",
    );
  cache
    .command("ls")
    .description("list what the download cache holds")
    .option("--cache <dir>", "download cache (default: $FERRY_CACHE or ~/.cache/ferry)")
    .option("--json", "print JSON")
    .action(async (flags: { cache?: string; json?: boolean }) => {
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
                "complete",
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
          `${listing.blobs.length} blobs and ${listing.partials.length} partial downloads, ${formatSize(listing.bytes)}, in ${listing.dir}`,
        ].join("\n"),
      );
    });
  cache
    .command("prune")
    .description("remove blobs not used for a while (and old partial downloads)")
    .option("--cache <dir>", "download cache (default: $FERRY_CACHE or ~/.cache/ferry)")
    .option(
      "--older-than <duration>",
      "unused for at least this long: 7d, 12h, 30m, 0 (default 7d)",
    )
    .option("--all", "empty the cache")
    .option("--json", "print JSON")
    .action(
      async (flags: { cache?: string; olderThan?: string; all?: boolean; json?: boolean }) => {
        const out = createOutput(flags);
        const result = await pruneCache(flags.cache ?? defaultCacheDir(), {
          ...(flags.all ? { all: true } : {}),
          olderThanMs: parseDuration(flags.olderThan ?? "7d"),
        });
        out.result(
          result,
          () =>
            `removed ${result.removed} entries (${formatSize(result.bytes)}) from ${result.dir}`,
        );
      },
    );
}
