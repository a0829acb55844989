import type { Command } from "commander";

export interface CacheLsFlags {
  cache?: string;
  json?: boolean;
}

export interface CachePruneFlags {
  cache?: string;
  olderThan?: string;
  all?: boolean;
  json?: boolean;
}

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
    .action(async (flags: CacheLsFlags) => {
      const { runCacheLs } = await import("./cache.run.js");
      await runCacheLs(flags);
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
    .action(async (flags: CachePruneFlags) => {
      const { runCachePrune } = await import("./cache.run.js");
      await runCachePrune(flags);
    });
}
