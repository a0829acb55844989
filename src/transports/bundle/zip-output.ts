import type { PartsManifest } from "../../types/parts.js";

/** What `finish()` hands the output: facts only the bundle writer knows. */
export interface ZipFinishInfo {
  /** ferry.json's id (recorded in a split bundle's `.parts` file). */
  bundleId?: string;
}

/** What a finished archive is: its size, and for a split bundle its parts. */
export interface ZipFinished {
  size: number;
  parts?: PartsManifest;
}

/**
 * Where a zip writer's bytes go: one file (FileOutput), or split volumes (SplitOutput).
 * Positions are offsets in the whole archive. For a sequential output, writes are mostly
 * appends; the only rewrites are CRC-32 patches into the local header of the entry being
 * written, never below a position already settled. A positional output takes writes anywhere,
 * in any order, several at once.
 */
export interface ZipOutput {
  /** The archive's final name (for messages). */
  readonly target: string;
  /**
   * True when the output takes writes at any position in any order, several in flight at once,
   * and needs no `settle` (one file): entries are then written concurrently and `settle` is
   * never called.
   */
  readonly positional?: boolean;
  /** The one file holding the archive until `commit` moves it to `target`, if there is one. */
  readonly tempPath?: string;
  /**
   * Write all of `buffer` at `position`. The caller may reuse `buffer` as soon as the promise
   * resolves (the entry writer's callers do): keep no reference to it past that.
   */
  write(buffer: Uint8Array, position: number): Promise<void>;
  /** Bytes below `position` are on disk and final: they will never be written again. */
  settle(position: number): void;
  /** Flush to disk and move into place under the final name(s). */
  commit(size: number, info: ZipFinishInfo): Promise<ZipFinished>;
  /** Drop everything written; no final name is touched. */
  abort(): Promise<void>;
}
