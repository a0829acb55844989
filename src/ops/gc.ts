/**
 * Reclaim the store's unreferenced blobs: mark every blob reachable from index.json (indexes,
 * manifests, configs, layers, WIM files), then delete the other `blobs/sha256/<hex>` files.
 * Runs under the store lock, so no load can publish blobs or name images meanwhile (a load that
 * skipped a blob because the store had it re-checks under the lock and fails cleanly).
 */

import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import { FerryError, fromSystemError } from "../errors.js";
import { attachedOfEntry } from "../transports/layout/attached-records.js";
import { blobPath, refNameOf } from "../transports/layout/index-file.js";
import { Store } from "../transports/layout/store.js";
import type { Descriptor } from "../types/descriptor.js";
import { isSha256Hex } from "../types/digest.js";
import { type ImageIndex, parseManifest } from "../types/manifest.js";
import { isIndexMediaType, isManifestMediaType } from "../types/media-types.js";
import { syncDirectory } from "../util/atomic-file.js";

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const MAX_DEPTH = 8;

export interface GcOptions {
  /** Report what would be removed; remove nothing. */
  dryRun?: boolean;
}

export interface GcReport {
  store: string;
  dryRun: boolean;
  /** Blobs reachable from index.json (kept). */
  blobsKept: number;
  blobsRemoved: number;
  bytesFreed: number;
  removed: Array<{ digest: string; size: number }>;
  /** Staging folders and temp files left by killed runs (removed unless dryRun). */
  staleTemp: string[];
  /** The bytes in them. */
  staleTempBytes: number;
  seconds: number;
}

/**
 * Every blob digest reachable from `index`. A manifest that cannot be read or parsed stops the
 * walk with an error: its blobs cannot be told from garbage, so nothing may be deleted.
 */
export async function reachableBlobs(store: Store, index: ImageIndex): Promise<Set<string>> {
  const marked = new Set<string>();
  const visit = async (descriptor: Descriptor, owner: string, depth: number): Promise<void> => {
    if (marked.has(descriptor.digest)) return;
    marked.add(descriptor.digest);
    const walkable =
      isIndexMediaType(descriptor.mediaType) || isManifestMediaType(descriptor.mediaType);
    if (!walkable) return;
    if (depth > MAX_DEPTH) {
      throw new FerryError("EBADIMAGE", `${owner}: indexes nested too deeply to collect garbage`);
    }
    const what = `manifest ${descriptor.digest} of ${owner}`;
    const bytes = await store.files.readFile(blobPath(descriptor.digest), MAX_MANIFEST_BYTES);
    if (bytes === undefined) {
      throw new FerryError(
        "EBADIMAGE",
        `${what} is missing from the store, so its blobs cannot be told from garbage`,
        { hint: "run `ferry check` (or load the image again); no blob was deleted" },
      );
    }
    const parsed = parseManifest(bytes, descriptor.mediaType, what);
    if (parsed.kind === "index") {
      for (const child of parsed.index.manifests) await visit(child, owner, depth + 1);
      return;
    }
    marked.add(parsed.manifest.config.digest);
    for (const layer of parsed.manifest.layers) marked.add(layer.digest);
  };
  for (const root of index.manifests) {
    const owner = refNameOf(root) ?? root.digest;
    await visit(root, owner, 0);
    // What is attached to the image (its entry's vnd.ferry.attached) is kept with it.
    for (const { mediaType, digest, size } of attachedOfEntry(root, store.dir)) {
      await visit({ mediaType, digest, size }, owner, 0);
    }
  }
  return marked;
}

/** Collect garbage; the caller holds the store lock (rmi does, between index write and gc). */
export async function collectGarbageLocked(
  store: Store,
  options: GcOptions = {},
): Promise<GcReport> {
  const started = Date.now();
  const index = await store.readIndex();
  const keep = await reachableBlobs(store, index);
  const dir = path.join(store.dir, "blobs", "sha256");
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw fromSystemError(error, dir, "listing");
    }
    names = [];
  }
  const report: GcReport = {
    store: store.dir,
    dryRun: Boolean(options.dryRun),
    blobsKept: 0,
    blobsRemoved: 0,
    bytesFreed: 0,
    removed: [],
    staleTemp: [],
    staleTempBytes: 0,
    seconds: 0,
  };
  const stale = options.dryRun ? await store.staleTemp() : await store.removeStaleTemp();
  report.staleTemp = stale.map((temp) => temp.path);
  report.staleTempBytes = stale.reduce((sum, temp) => sum + temp.bytes, 0);
  for (const name of names.sort()) {
    if (!isSha256Hex(name)) continue;
    const digest = `sha256:${name}`;
    if (keep.has(digest)) {
      report.blobsKept++;
      continue;
    }
    const file = path.join(dir, name);
    // Only regular files: a link or FIFO planted here is `ferry check`'s to report.
    const info = await lstat(file).catch(() => undefined);
    if (!info?.isFile()) continue;
    if (!options.dryRun) {
      try {
        await store.fileOps.unlink(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw fromSystemError(error, file, "removing");
      }
    }
    report.blobsRemoved++;
    report.bytesFreed += info.size;
    report.removed.push({ digest, size: info.size });
  }
  if (!options.dryRun && report.blobsRemoved > 0) await syncDirectory(dir);
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** Reclaim the unreferenced blobs of the store at `storeDir`, under its lock. */
export async function collectGarbage(storeDir: string, options: GcOptions = {}): Promise<GcReport> {
  const store = await Store.open(storeDir);
  return store.withLock(options.dryRun ? "checking for garbage" : "collecting garbage", () =>
    collectGarbageLocked(store, options),
  );
}
