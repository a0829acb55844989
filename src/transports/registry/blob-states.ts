import { FerryError } from "../../errors.js";
import type { LiveDownload } from "./live-download.js";

/**
 * What a registry session did with one blob, and what it still owes it. A download holds the
 * cache's claim on the blob's partial file (its lock) from `downloading` until it is
 * `released`; a direct one (handed straight to the engine, see `DownloadPipe`) also has its
 * bytes in the engine's output, tracked by its landing journal. The moves (`ALLOWED`):
 *
 * - none -> `cached` (served from the cache) or `downloading`;
 * - `downloading` -> `downloaded`; -> `cached` (the cache had it after all); -> `failed`
 *   (direct) or `released` (any other download that failed: a cut one kept to resume from);
 * - `downloaded` -> `verified` or `rejected` (the engine's events), or `released` (the
 *   session ends without a verdict: kept, the next copy verifies it);
 * - `verified` -> `released` (published, pointed at, salvaged, or dropped at the end);
 * - `failed` -> `released` (salvaged, or kept to resume from);
 * - `cached` -> `rejected` (the engine found the cache's copy damaged: evicted);
 * - `cached`, `rejected`, `released` -> `downloading` or `cached` when asked again.
 */
export type BlobState =
  /** Served from the cache an earlier command filled (a copy, or a pointer into a bundle). */
  | { readonly kind: "cached"; readonly size: number }
  /** Its download is queued or running: readers get bytes as they arrive. */
  | { readonly kind: "downloading"; readonly download: LiveDownload }
  /** Every byte arrived (or an earlier run had them all); the engine has given no verdict. */
  | { readonly kind: "downloaded"; readonly download: LiveDownload }
  /**
   * A direct download failed: its bytes lie in the engine's output, so the claim is kept
   * until the session salvages them or closes. (Other downloads are released when they fail.)
   */
  | { readonly kind: "failed"; readonly download: LiveDownload }
  /**
   * The engine verified every byte it read from this download, to the end. Being published
   * into the cache (`publishing`), or, direct, waiting for the output's fate: kept as a
   * pointer into the finished output, or salvaged from an unfinished one.
   */
  | {
      readonly kind: "verified";
      readonly download: LiveDownload;
      readonly publishing?: Promise<void>;
    }
  /**
   * The engine rejected the bytes (ESIZE, EINTEGRITY): they are dropped, never kept to resume
   * from. `download` is the download they came from; undefined: the cache's own copy.
   */
  | { readonly kind: "rejected"; readonly download?: LiveDownload }
  /** The session let go of the download's claim, leaving the bytes as `as` says. */
  | { readonly kind: "released"; readonly download: LiveDownload; readonly as: Release };

/**
 * How a download was let go: published into `blobs/`, kept as a pointer into the finished
 * output, salvaged from an unfinished output into the cache, left in `partial/` to resume
 * from, or discarded.
 */
export type Release = "published" | "pointer" | "salvaged" | "partial" | "discarded";

type BlobStateKind = BlobState["kind"];

/** The moves the session makes; anything else is a bug. */
const ALLOWED: Record<BlobStateKind | "none", readonly BlobStateKind[]> = {
  none: ["cached", "downloading"],
  cached: ["downloading", "rejected"],
  downloading: ["downloaded", "failed", "released", "cached"],
  downloaded: ["verified", "rejected", "released"],
  failed: ["released"],
  verified: ["released"],
  rejected: ["cached", "downloading"],
  released: ["cached", "downloading"],
};

/** States in which the session holds a download's claim (and owes it a release). */
export type Claimed = Extract<
  BlobState,
  { kind: "downloading" | "downloaded" | "failed" | "verified" }
>;

export function isClaimed(state: BlobState | undefined): state is Claimed {
  return (
    state?.kind === "downloading" ||
    state?.kind === "downloaded" ||
    state?.kind === "failed" ||
    state?.kind === "verified"
  );
}

/** Every blob a session has dealt with, by digest, each in one explicit state. */
export class BlobBook {
  private readonly states = new Map<string, BlobState>();

  get(digest: string): BlobState | undefined {
    return this.states.get(digest);
  }

  /** The one place a blob changes state; a move the diagram does not allow is a bug. */
  move(digest: string, next: BlobState): void {
    const from = this.states.get(digest)?.kind ?? "none";
    if (!ALLOWED[from].includes(next.kind)) {
      throw new FerryError("EINTERNAL", `blob ${digest}: no move from ${from} to ${next.kind}`);
    }
    this.states.set(digest, next);
  }

  /** Blobs whose download the session still holds the claim of. */
  claimed(): Array<[string, Claimed]> {
    return [...this.states].filter((entry): entry is [string, Claimed] => isClaimed(entry[1]));
  }

  /** Every download the session started that still holds a claim (for `finished`). */
  downloads(): LiveDownload[] {
    return this.claimed().map(([, state]) => state.download);
  }
}
