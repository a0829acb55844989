/**
 * Anti-rollback: what a store (or, for `load --to-registry`, the loading host on a registry's
 * behalf) remembers of the bundles loaded into it, and the judgement whether a new bundle is
 * older than what is there. Pure: reading and writing the record is in ops/rollback.ts.
 *
 * Two rules (docs/usb-round-trip.md, "Older bundles"):
 * - A bundle whose signature was verified (`--trust`) is older when its `sequence` is below
 *   the highest sequence loaded from the same key. A signed bundle without a sequence (saved
 *   by an older ferry) counts as sequence 0. The signer's counter decides, not a clock.
 * - Otherwise (no `--trust`), a name is downgraded when it would move from the image a
 *   bundle created at T put there to another image, from a bundle created before T.
 */

import { FerryError } from "../errors.js";

export const ROLLBACK_SCHEMA = "ferry.rollback/v1";

/** The highest sequence loaded from one signing key, and the bundle that carried it. */
export interface KeyRecord {
  sequence: number;
  bundleId: string;
  created: string;
}

/** What a name was last pointed at by a load, and the bundle's creation time. */
export interface TagRecord {
  digest: string;
  created: string;
  bundleId: string;
}

export interface RollbackState {
  schema: typeof ROLLBACK_SCHEMA;
  /** By key id. */
  keys: Record<string, KeyRecord>;
  /** By full name (store reference, or registry target reference). */
  tags: Record<string, TagRecord>;
}

/** What a bundle being loaded claims. */
export interface BundleClaim {
  id: string;
  created: string;
  /** Set only when its signature was verified against a trusted key. */
  signer?: { keyId: string; sequence: number | undefined };
  /** Each name the load points, and the digest it will point at. */
  tags: Map<string, string>;
}

export interface RollbackVerdict {
  /** A verified bundle older than the key's highest loaded sequence. */
  olderSequence?: { keyId: string; sequence: number; recorded: KeyRecord };
  /** Names that would move to an older bundle's image (the rule without trust). */
  downgradedTags: Array<{ name: string; from: string; to: string; recorded: TagRecord }>;
}

export function emptyRollbackState(): RollbackState {
  return { schema: ROLLBACK_SCHEMA, keys: {}, tags: {} };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validKey(value: unknown): boolean {
  return (
    isRecord(value) &&
    Number.isSafeInteger(value.sequence) &&
    (value.sequence as number) >= 0 &&
    typeof value.bundleId === "string" &&
    typeof value.created === "string"
  );
}

function validTag(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.digest === "string" &&
    typeof value.created === "string" &&
    typeof value.bundleId === "string"
  );
}

/** Parse a rollback record; a damaged one is refused (trust decisions depend on it). */
export function parseRollbackState(bytes: Uint8Array, where: string): RollbackState {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    doc = undefined;
  }
  if (
    !isRecord(doc) ||
    doc.schema !== ROLLBACK_SCHEMA ||
    !isRecord(doc.keys) ||
    !isRecord(doc.tags) ||
    !Object.values(doc.keys).every(validKey) ||
    !Object.values(doc.tags).every(validTag)
  ) {
    throw new FerryError("EIO", `${where} is damaged: it is not a ferry rollback record`, {
      hint: `restore it from a backup, or delete it to start over (until then ferry cannot tell an older bundle from a newer one)`,
    });
  }
  return doc as unknown as RollbackState;
}

export function serializeRollbackState(state: RollbackState): Buffer {
  return Buffer.from(`${JSON.stringify(state, null, 2)}\n`);
}

/** Milliseconds since the epoch, or undefined for a time that does not parse. */
function timeOf(text: string): number | undefined {
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Is `claim` older than what `state` remembers? `current` is where each claimed name points
 * now (undefined: absent). A name's record counts only while the name still points where the
 * record says (a name retagged or removed since, or a registry changed by someone else, has
 * no record to compare with).
 */
export function judgeRollback(
  state: RollbackState,
  claim: BundleClaim,
  current: ReadonlyMap<string, string | undefined>,
): RollbackVerdict {
  const verdict: RollbackVerdict = { downgradedTags: [] };
  if (claim.signer) {
    const recorded = state.keys[claim.signer.keyId];
    const sequence = claim.signer.sequence ?? 0;
    if (recorded && sequence < recorded.sequence) {
      verdict.olderSequence = { keyId: claim.signer.keyId, sequence, recorded };
    }
    return verdict;
  }
  const created = timeOf(claim.created);
  if (created === undefined) return verdict;
  for (const [name, digest] of claim.tags) {
    const recorded = state.tags[name];
    const now = current.get(name);
    if (!recorded || now === undefined || now !== recorded.digest || now === digest) continue;
    const recordedTime = timeOf(recorded.created);
    if (recordedTime !== undefined && created < recordedTime) {
      verdict.downgradedTags.push({ name, from: now, to: digest, recorded });
    }
  }
  return verdict;
}

/** The record after `claim` was loaded: a key's sequence only rises; names record their bundle. */
export function recordLoad(state: RollbackState, claim: BundleClaim): RollbackState {
  const keys = { ...state.keys };
  const signer = claim.signer;
  if (signer?.sequence !== undefined) {
    const recorded = keys[signer.keyId];
    if (!recorded || signer.sequence > recorded.sequence) {
      keys[signer.keyId] = {
        sequence: signer.sequence,
        bundleId: claim.id,
        created: claim.created,
      };
    }
  }
  const tags = { ...state.tags };
  for (const [name, digest] of claim.tags) {
    const recorded = tags[name];
    const keepLater =
      recorded?.digest === digest && (timeOf(recorded.created) ?? 0) > (timeOf(claim.created) ?? 0);
    if (!keepLater) tags[name] = { digest, created: claim.created, bundleId: claim.id };
  }
  return { schema: ROLLBACK_SCHEMA, keys, tags };
}
