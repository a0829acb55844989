/** Seeing which files a test's process holds open, and copies that hold none for long. */

import { readdirSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";
import { DiscardSink } from "../../src/transports/discard.js";
import type { Sink } from "../../src/types/transport.js";

/** The files under `dir` this process holds open (Linux: /proc/self/fd). */
export function openFilesUnder(dir: string): string[] {
  const root = `${realpathSync(dir)}${path.sep}`;
  const found: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed since the listing (the listing's own descriptor, too)
    }
    if (target.startsWith(root)) found.push(target);
  }
  return found;
}

/** The sockets this process holds open (Linux: /proc/self/fd), as `socket:[inode]`. */
export function openSockets(): string[] {
  const found: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("socket:")) found.push(target);
    } catch {
      // closed since the listing
    }
  }
  return found;
}

/**
 * A sink that passes every call on to `sink` except the blob writer: `blobWriter` instead
 * (none given: the sink offers none, and the engine streams every blob).
 */
export function sinkWithWriter(sink: Sink, blobWriter?: Sink["blobWriter"]): Sink {
  return {
    label: sink.label,
    maxConcurrentBlobs: sink.maxConcurrentBlobs,
    hasBlob: (d) => sink.hasBlob(d),
    putBlob: (d, stream) => sink.putBlob(d, stream),
    putManifest: (d, bytes) => sink.putManifest(d, bytes),
    addImage: (record) => sink.addImage(record),
    commit: () => sink.commit(),
    abort: () => sink.abort(),
    ...(blobWriter ? { blobWriter } : {}),
  };
}

/** A sink that keeps nothing and offers no blob writer: the engine streams every blob. */
export function streamingDiscard(): Sink {
  return sinkWithWriter(new DiscardSink());
}
