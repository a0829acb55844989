import type { BlobLocation } from "./transport.js";

/**
 * What the copy engine reports about one blob. A blob the copy takes goes through, in order:
 *
 * - `blob-start`: the engine opens it at the source;
 * - `blob-progress`: bytes read and fed to the check (each event: how many more);
 * - `blob-landed`, when the sink's writer names where its bytes go (`BlobWriter.location`):
 *   the first `bytes` bytes of the blob are written there (after each completed write);
 * - at most one verdict: `blob-verified` (every byte read matched the descriptor's size and
 *   sha256) or `blob-rejected` (they did not: ESIZE or EINTEGRITY). A copy that fails for
 *   another reason (the source or the sink failed, or the copy was cancelled) gives none;
 * - `blob-done`: the sink kept the verified blob (it is committed to the sink).
 *
 * Blobs the sink has already get `blob-skip` only; those the source leaves out on purpose
 * `blob-omit` only.
 */
export type BlobEvent =
  | { type: "blob-start"; digest: string; size: number; role: string }
  | { type: "blob-progress"; digest: string; bytes: number }
  | { type: "blob-landed"; digest: string; location: BlobLocation; bytes: number }
  | { type: "blob-verified"; digest: string; size: number }
  | { type: "blob-rejected"; digest: string; code: string; message: string }
  | { type: "blob-done"; digest: string; size: number }
  | { type: "blob-skip"; digest: string; size: number }
  | { type: "blob-omit"; digest: string; size: number; reason: string };

/**
 * The copy's one event stream: `start` (what the copy will take), every blob's events, and
 * `commit` (every blob and manifest is in: the sink commits next).
 */
export type CopyEvent =
  | { type: "start"; images: number; blobs: number; bytes: number }
  | BlobEvent
  | { type: "commit" };

/**
 * Hears the copy's events as they happen, synchronously, on the engine's thread: it must be
 * quick (a progress event comes with every MiB) and must not throw.
 */
export type CopyListener = (event: CopyEvent) => void;
