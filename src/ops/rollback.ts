/**
 * Anti-rollback for `load` and `load --to-registry`: refuse a bundle older than what was
 * already loaded (a replayed old stick, a mix-up), unless `--allow-downgrade` says it is on
 * purpose. The rules are in types/rollback.ts; this module keeps the record:
 *
 * - a store: `STORE/.ferry/rollback.json`, read, judged and rewritten under the store lock at
 *   commit (StoreSink `beforeIndexWrite`), before index.json is replaced;
 * - a registry (which cannot remember for us): `STATE/registries/<host_port>.json` on the
 *   loading host (see `defaultStateDir`), judged and rewritten under its own lock file before
 *   anything is pushed.
 *
 * The record is written before the names move, so a crash in between leaves a record at
 * least as new as what is installed: the same bundle loads again, an older one is refused.
 */

import { mkdir } from "node:fs/promises";
import path from "node:path";
import { FerryError, fromSystemError, isFerryError } from "../errors.js";
import type { BundleReader } from "../transports/bundle/reader.js";
import { refNameOf } from "../transports/layout/index-file.js";
import type { Store } from "../transports/layout/store.js";
import type { ImageIndex } from "../types/manifest.js";
import {
  type BundleClaim,
  emptyRollbackState,
  judgeRollback,
  parseRollbackState,
  type RollbackState,
  type RollbackVerdict,
  recordLoad,
  serializeRollbackState,
} from "../types/rollback.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { acquireLock } from "../util/lock.js";
import { readRegularFile } from "../util/safe-open.js";
import { macAppSupportDir, programDataDir, runsAsRoot, xdgBaseDir } from "../util/user-dirs.js";

/** The store's rollback record, in its working area. */
export const STORE_ROLLBACK_FILE = path.join(".ferry", "rollback.json");

/**
 * Where ferry keeps state that is neither a store nor a cache (the rollback records of
 * registries): `$FERRY_STATE_DIR`, else Linux as root `/var/lib/ferry/state`, otherwise
 * `$XDG_STATE_HOME/ferry` (`~/.local/state/ferry`); macOS `~/Library/Application Support/ferry/state`;
 * Windows `%ProgramData%\ferry\state`.
 */
export function defaultStateDir(env = process.env, platform = process.platform): string {
  if (env.FERRY_STATE_DIR) return path.resolve(env.FERRY_STATE_DIR);
  if (platform === "win32") return programDataDir(env, "state");
  if (platform === "darwin") return macAppSupportDir("state");
  if (runsAsRoot()) return "/var/lib/ferry/state";
  return path.join(xdgBaseDir(env, "XDG_STATE_HOME", ".local", "state"), "ferry");
}

/** The rollback record of one registry (`127.0.0.1:5000` -> `registries/127.0.0.1_5000.json`). */
export function registryRollbackFile(stateDir: string, registry: string): string {
  return path.join(stateDir, "registries", `${registry.replace(/[^A-Za-z0-9.-]/g, "_")}.json`);
}

/** Where each name of an OCI index points. */
export function namesOf(index: ImageIndex): Map<string, string> {
  const names = new Map<string, string>();
  for (const descriptor of index.manifests) {
    const ref = refNameOf(descriptor);
    if (ref !== undefined) names.set(ref, descriptor.digest);
  }
  return names;
}

/** The claim of a bundle the reader checked: signer only when the signature was verified. */
export function claimOf(reader: BundleReader, tags: Map<string, string>): BundleClaim {
  const manifest = reader.manifest;
  if (!manifest) throw new FerryError("EINTERNAL", "claimOf: the bundle has no ferry.json");
  const claim: BundleClaim = { id: manifest.id, created: manifest.created, tags };
  if (reader.signatureVerified && reader.signatureKeyId) {
    claim.signer = { keyId: reader.signatureKeyId, sequence: manifest.sequence };
  }
  return claim;
}

async function readState(file: string): Promise<RollbackState> {
  let bytes: Buffer;
  try {
    // Never through a planted link: the record decides what is refused.
    bytes = await readRegularFile(file, {
      code: "EBADSTORE",
      what: "the anti-rollback record",
      hint: "remove it (forgetting what was loaded before) or restore it from a backup",
    });
  } catch (error) {
    if (isFerryError(error) && error.code === "ENOTFOUND") return emptyRollbackState();
    throw error;
  }
  return parseRollbackState(bytes, file);
}

function refusal(verdict: RollbackVerdict, bundle: string, where: string): FerryError {
  const hint =
    "load the newest bundle instead; to go back to an older one on purpose, run the same command with --allow-downgrade";
  const older = verdict.olderSequence;
  if (older) {
    const { recorded } = older;
    const what =
      older.sequence === 0
        ? "carries no sequence (saved by an older ferry: sequence 0)"
        : `has sequence ${older.sequence}`;
    return new FerryError(
      "EDOWNGRADE",
      `${bundle} is signed by key ${older.keyId} and ${what}, but ${where} has already loaded sequence ${recorded.sequence} from that key (bundle ${recorded.bundleId}, created ${recorded.created}): it is an older bundle`,
      {
        hint,
        details: {
          keyId: older.keyId,
          sequence: older.sequence,
          loadedSequence: recorded.sequence,
          loadedBundle: recorded.bundleId,
        },
      },
    );
  }
  const lines = verdict.downgradedTags.map(
    (t) =>
      `  ${t.name}: now ${t.from} (from bundle ${t.recorded.bundleId}, created ${t.recorded.created}) -> ${t.to}`,
  );
  return new FerryError(
    "EDOWNGRADE",
    `${bundle} is older than what ${where} holds: ${verdict.downgradedTags.length} name(s) would be downgraded:\n${lines.join("\n")}`,
    { hint, details: { downgraded: verdict.downgradedTags.map((t) => t.name) } },
  );
}

/**
 * One load's anti-rollback decision: `check` judges (refusing unless allowed) and may run
 * more than once (early, then again under the lock); `commit` judges and records.
 */
export class RollbackGuard {
  /** Names this load moves back (reported as `downgraded`; only with --allow-downgrade). */
  readonly downgraded = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly claim: BundleClaim,
    private readonly labels: { bundle: string; where: string },
    private readonly allowDowngrade: boolean,
  ) {}

  /** Judge against the record and where each name points now; EDOWNGRADE unless allowed. */
  judge(state: RollbackState, current: ReadonlyMap<string, string | undefined>): void {
    const verdict = judgeRollback(state, this.claim, current);
    const refused = verdict.olderSequence !== undefined || verdict.downgradedTags.length > 0;
    if (refused && !this.allowDowngrade) {
      throw refusal(verdict, this.labels.bundle, this.labels.where);
    }
    this.downgraded.clear();
    if (verdict.olderSequence) {
      for (const [name, digest] of this.claim.tags) {
        const now = current.get(name);
        if (now !== undefined && now !== digest) this.downgraded.add(name);
      }
    }
    for (const tag of verdict.downgradedTags) this.downgraded.add(tag.name);
  }

  async check(current: ReadonlyMap<string, string | undefined>): Promise<void> {
    this.judge(await readState(this.file), current);
  }

  /**
   * Judge, then write the record of this load (atomically, temp files in `tempDirectory`).
   * The caller holds whatever lock guards the record.
   */
  async commit(
    current: ReadonlyMap<string, string | undefined>,
    tempDirectory?: string,
  ): Promise<void> {
    const state = await readState(this.file);
    this.judge(state, current);
    const next = serializeRollbackState(recordLoad(state, this.claim));
    if (next.equals(serializeRollbackState(state))) return;
    await writeFileAtomic(this.file, next, tempDirectory ? { tempDirectory } : {});
  }

  /** `commit` under the record's own lock file (a registry's record has no store lock). */
  async commitLocked(current: ReadonlyMap<string, string | undefined>): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true }).catch((error: unknown) => {
      throw fromSystemError(error, path.dirname(this.file), "creating");
    });
    const lock = await acquireLock(`${this.file}.lock`, {
      purpose: `recording ${this.labels.bundle} for ${this.labels.where}`,
    });
    try {
      await this.commit(current);
    } finally {
      await lock.release();
    }
  }
}

/**
 * The guard of a load into a store: the bundle's images by name (ferry.json, which the reader
 * checked against index.json), judged against `STORE/.ferry/rollback.json`.
 */
export function storeRollbackGuard(
  store: Store,
  reader: BundleReader,
  bundle: string,
  allowDowngrade: boolean,
): RollbackGuard & { beforeIndexWrite: (index: ImageIndex) => Promise<void> } {
  const tags = new Map((reader.manifest?.images ?? []).map((i) => [i.ref, i.digest as string]));
  const guard = new RollbackGuard(
    path.join(store.dir, STORE_ROLLBACK_FILE),
    claimOf(reader, tags),
    { bundle, where: `the store ${store.dir}` },
    allowDowngrade,
  );
  return Object.assign(guard, {
    beforeIndexWrite: (index: ImageIndex) => guard.commit(namesOf(index), store.tmpDir),
  });
}
