/**
 * A test double of the bundle's random-access reader: it counts the reads of chosen zip entry
 * regions and can answer a region differently on its first read than on later ones, the way
 * a hostile USB device (or a racing writer) can. A "read of a region" is a read that starts
 * at the region's first byte (how ferry reads an entry: a whole small entry at once, or a
 * stream from its start); reads that merely pass over it (the zip tail search) are untouched.
 *
 * It wraps `read` of both random-access readers (one file, split volumes), above their small
 * read cache, so it sees exactly what ferry's reader asks for.
 */

import { vi } from "vitest";
import { FileRandomAccess } from "../../src/transports/bundle/random-access.js";
import { openBundleAccess } from "../../src/transports/bundle/split-open.js";
import { SplitRandomAccess } from "../../src/transports/bundle/split-random-access.js";
import { indexZip, type ZipEntry } from "../../src/transports/bundle/zip-index.js";

export interface WatchedRegion {
  /** What the region is (an entry name). */
  name: string;
  start: number;
  length: number;
  /** Bytes served by the first read (default: what is stored). */
  first?: Buffer;
  /** Bytes served by every later read (default: what is stored). */
  later?: Buffer;
}

export interface BundleReads {
  /** Reads of each region so far, by name. */
  counts(): Record<string, number>;
  /** Forget the counts (the regions stay watched). */
  reset(): void;
  restore(): void;
}

type Read = (buffer: Buffer, offset: number, length: number, position: number) => Promise<number>;

/** Watch regions of a bundle (its file, or the `.parts` of its split volumes). */
export function watchBundleReads(bundle: string, regions: WatchedRegion[]): BundleReads {
  // A split bundle's reader is labelled by the joined bundle's name.
  const bundlePath = bundle.replace(/\.parts$/, "");
  const counts = new Map<string, number>();
  const byStart = new Map(regions.map((region) => [region.start, region]));
  const wrap = (original: Read): Read =>
    async function (this: { label: string }, buffer, offset, length, position) {
      const n = await original.call(this, buffer, offset, length, position);
      const region = this.label.startsWith(bundlePath) ? byStart.get(position) : undefined;
      if (!region) return n;
      const count = (counts.get(region.name) ?? 0) + 1;
      counts.set(region.name, count);
      const served = count === 1 ? region.first : region.later;
      if (served) served.copy(buffer, offset, 0, Math.min(n, region.length, served.length));
      return n;
    };
  const fileRead = wrap(FileRandomAccess.prototype.read);
  const splitRead = wrap(SplitRandomAccess.prototype.read);
  const spies = [
    vi.spyOn(FileRandomAccess.prototype, "read").mockImplementation(fileRead),
    vi.spyOn(SplitRandomAccess.prototype, "read").mockImplementation(splitRead),
  ];
  return {
    counts: () => Object.fromEntries(counts),
    reset: () => counts.clear(),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

/** Every entry of a bundle (one file, or split volumes) as a watched region, by entry name. */
export async function entryRegions(bundle: string): Promise<WatchedRegion[]> {
  const { source } = await openBundleAccess(bundle);
  let entries: Map<string, ZipEntry>;
  try {
    entries = (await indexZip(source)).entries;
  } finally {
    await source.close();
  }
  return [...entries.values()]
    .filter((entry) => entry.size > 0)
    .map((entry) => ({ name: entry.name, start: entry.dataStart, length: entry.size }));
}
