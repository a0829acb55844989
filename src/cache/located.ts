import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fromSystemError } from "../errors.js";
import { type Digest, digestFromHex, digestHex, isSha256Hex } from "../types/digest.js";
import type { BlobLocation } from "../types/transport.js";
import { processLiveness, thisProcess } from "../util/process-liveness.js";
import { createOwnFile, openRegularFile, readRegularFile } from "../util/safe-open.js";
import { uniqueTempName } from "../util/temp-name.js";

/**
 * A verified blob the cache does not copy but points at: the bytes sit in a file a save wrote
 * (a bundle), from `offset` on. Valid while that file is the one it was (same device, inode,
 * size and modification time); every read still goes through the engine's hash.
 */
export interface KeptBlob {
  digest: Digest;
  size: number;
  file: string;
  offset: number;
  fingerprint: FileFingerprint;
  /** When a save last used it. */
  lastUsed: string;
}

/** A pointer's last use is rewritten at most this often. */
const TOUCH_EVERY_MS = 5 * 60 * 1000;

/** What identifies a file's state without reading it. */
export interface FileFingerprint {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/**
 * A blob a running save is downloading straight into its output (a bundle's temp file): how
 * many of its bytes are there so far, and whether the engine verified all of them. It lets a
 * later run take the bytes over if this one is killed (see `BlobCache.adoptOrphans`).
 */
export interface JournalEntry {
  digest: Digest;
  size: number;
  file: string;
  offset: number;
  /** Bytes from the blob's start known written at `offset` (contiguous). */
  length: number;
  verified: boolean;
  pid: number;
  host: string;
  /** The writer's start time and boot id (see util/process-liveness.ts), where known. */
  started?: string;
  boot?: string;
}

export async function fingerprintOf(file: string): Promise<FileFingerprint> {
  const info = await stat(file);
  return { dev: info.dev, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs };
}

function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Write a small JSON file whole or not at all (temp name, then rename). */
async function writeJsonAtomically(file: string, value: unknown): Promise<void> {
  const temp = uniqueTempName(file);
  try {
    await writeFile(temp, JSON.stringify(value));
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw fromSystemError(error, file, "writing");
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse((await readRegularFile(file, { code: "EIO" })).toString("utf8")) as T;
  } catch {
    return undefined;
  }
}

/** What a kept blob and a journal entry both are: `size` bytes from `offset` of `file`. */
function pointsIntoFile(v: Partial<KeptBlob | JournalEntry> | undefined): boolean {
  return typeof v?.file === "string" && typeof v.offset === "number" && typeof v.size === "number";
}

function isKeptBlob(value: unknown): value is KeptBlob {
  const v = value as Partial<KeptBlob> | undefined;
  return pointsIntoFile(v) && typeof v?.fingerprint?.ino === "number";
}

function isJournalEntry(value: unknown): value is JournalEntry {
  const v = value as Partial<JournalEntry> | undefined;
  return (
    pointsIntoFile(v) &&
    typeof v?.length === "number" &&
    typeof v.pid === "number" &&
    typeof v.host === "string"
  );
}

/**
 * The cache's pointers into files it did not write: `located/<hex>.json` (verified blobs kept
 * in a finished bundle) and `journal/<pid>-<hex>.json` (blobs a running save is writing
 * straight into its output).
 */
export class LocatedBlobs {
  private readonly keptDir: string;
  private readonly journalDir: string;

  constructor(dir: string) {
    this.keptDir = path.join(dir, "located");
    this.journalDir = path.join(dir, "journal");
  }

  async create(): Promise<void> {
    await mkdir(this.keptDir, { recursive: true });
    await mkdir(this.journalDir, { recursive: true });
  }

  private keptPath(digest: Digest): string {
    return path.join(this.keptDir, `${digestHex(digest)}.json`);
  }

  private journalPath(digest: Digest, pid = process.pid): string {
    return path.join(this.journalDir, `${pid}-${digestHex(digest)}.json`);
  }

  /** Point at a verified blob in a finished file. */
  async keep(digest: Digest, size: number, location: BlobLocation): Promise<void> {
    const kept: KeptBlob = {
      digest,
      size,
      file: path.resolve(location.file),
      offset: location.offset,
      fingerprint: await fingerprintOf(location.file),
      lastUsed: new Date().toISOString(),
    };
    await writeJsonAtomically(this.keptPath(digest), kept);
  }

  /** The kept blob, if its file is still the one it was and holds all of it. */
  async find(digest: Digest, size: number): Promise<KeptBlob | undefined> {
    const kept = await readJson<unknown>(this.keptPath(digest));
    if (!isKeptBlob(kept) || kept.size !== size) return undefined;
    return this.check({ ...kept, digest });
  }

  /** `kept` if its file is still the one it was and holds all of it; else it is forgotten. */
  async check(kept: KeptBlob): Promise<KeptBlob | undefined> {
    const now = await fingerprintOf(kept.file).catch(() => undefined);
    if (!now || !sameFingerprint(now, kept.fingerprint) || now.size < kept.offset + kept.size) {
      await this.forget(kept.digest);
      return undefined;
    }
    return kept;
  }

  /**
   * Mark a kept blob used (for `cache prune --older-than`); at most every few minutes, as a
   * save asks about each blob more than once.
   */
  async touch(kept: KeptBlob): Promise<void> {
    if (Date.now() - Date.parse(kept.lastUsed) < TOUCH_EVERY_MS) return;
    await writeJsonAtomically(this.keptPath(kept.digest), {
      ...kept,
      lastUsed: new Date().toISOString(),
    }).catch(() => {});
  }

  async forget(digest: Digest): Promise<void> {
    await rm(this.keptPath(digest), { force: true });
  }

  /** Every pointer to a kept blob (not checked against its file). */
  async listKept(): Promise<KeptBlob[]> {
    const kept: KeptBlob[] = [];
    for (const name of await readdir(this.keptDir).catch(() => [] as string[])) {
      const hex = name.replace(/\.json$/, "");
      if (!name.endsWith(".json") || !isSha256Hex(hex)) continue;
      const entry = await readJson<unknown>(path.join(this.keptDir, name));
      if (isKeptBlob(entry)) kept.push({ ...entry, digest: digestFromHex(hex) });
    }
    return kept;
  }

  /** Record (or update) where this process is writing a blob it downloads. */
  async journal(entry: Omit<JournalEntry, "pid" | "host">): Promise<void> {
    const full: JournalEntry = {
      ...entry,
      file: path.resolve(entry.file),
      ...thisProcess(),
    };
    await writeJsonAtomically(this.journalPath(entry.digest), full);
  }

  async endJournal(digest: Digest): Promise<void> {
    await rm(this.journalPath(digest), { force: true });
  }

  /** Journal entries of processes on this host that are gone (killed half-way). */
  async orphans(): Promise<JournalEntry[]> {
    const found: JournalEntry[] = [];
    for (const name of await readdir(this.journalDir).catch(() => [] as string[])) {
      const match = /^(\d+)-([0-9a-f]{64})\.json$/.exec(name);
      if (!match) continue;
      const file = path.join(this.journalDir, name);
      const entry = await readJson<unknown>(file);
      if (!isJournalEntry(entry)) {
        await rm(file, { force: true });
        continue;
      }
      if (processLiveness(entry) !== "gone") continue;
      found.push({ ...entry, digest: digestFromHex(match[2] as string) });
    }
    return found;
  }

  async dropOrphan(entry: JournalEntry): Promise<void> {
    await rm(this.journalPath(entry.digest, entry.pid), { force: true });
  }
}

/**
 * Copy `length` bytes of `file` from `offset` into `target` (created or replaced) in 1 MiB
 * pieces. Used when a blob's bytes must outlive the file they were written to: a save that
 * failed (its bundle is removed) or was killed (a later run takes the bytes over).
 */
export async function copyRegion(
  file: string,
  offset: number,
  length: number,
  target: string,
): Promise<number> {
  // `file` is a bundle or a killed save's temp file (a link to one is fine, a FIFO is not).
  const { handle: input } = await openRegularFile(file, { code: "EIO", followLinks: true });
  try {
    const output = await createOwnFile(target, 0o644, {
      existing: "truncate",
      umask: true,
      rules: { code: "EIO" },
    });
    try {
      const buffer = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(1, length)));
      let done = 0;
      while (done < length) {
        const want = Math.min(buffer.length, length - done);
        const { bytesRead } = await input.read(buffer, 0, want, offset + done);
        if (bytesRead === 0) break;
        await output.write(buffer, 0, bytesRead, done);
        done += bytesRead;
      }
      return done;
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}
