import { type FileHandle, lstat, mkdir, readdir, rename, rm, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fromSystemError, SizeError } from "../errors.js";
import type { Descriptor } from "../types/descriptor.js";
import { type Digest, digestFromHex, digestHex, isSha256Hex } from "../types/digest.js";
import type { BlobReader } from "../types/transport.js";
import { type HeldLock, isLockHeld, tryLock } from "../util/lock.js";
import { processLiveness } from "../util/process-liveness.js";
import { type FileRules, openRegularFile } from "../util/safe-open.js";
import { tempNameOwner, uniqueTempName } from "../util/temp-name.js";
import { windowsAppDataDir, xdgBaseDir } from "../util/user-dirs.js";
import { copyRegion, type JournalEntry, LocatedBlobs } from "./located.js";
import { PartialFile } from "./partial-file.js";

/** A verified blob in the cache. */
export interface CachedBlob {
  digest: Digest;
  size: number;
  /** When a save or pull last used it. */
  lastUsed: Date;
  /** Not copied into the cache: kept where a save wrote it (a bundle), at this path. */
  keptIn?: string;
}

/** A download that was cut and can resume. */
export interface CachedPartial {
  digest: Digest;
  /** Bytes downloaded so far. */
  size: number;
  modified: Date;
  /** True while another live process is writing it. */
  busy: boolean;
}

/** A partial file this process may write, and how to let go of it. */
export interface PartialClaim {
  file: PartialFile;
  /** False when another process holds the resumable partial: this one starts from zero. */
  resumable: boolean;
  /**
   * Let go (once; later calls do nothing): "published" renames the file into `blobs/` (only
   * for bytes the copy engine verified), "keep" leaves it to resume, "discard" deletes it.
   */
  release(outcome: "published" | "keep" | "discard"): Promise<void>;
}

/** A cached blob file must be a regular file: a link planted in the cache is never read. */
function cachedBlobRules(digest: Digest): FileRules {
  return {
    code: "EIO",
    what: `cached blob ${digest}`,
    hint: "remove it (`ferry cache prune --all` empties the download cache)",
  };
}

/**
 * The per-user default cache folder: `$FERRY_CACHE`, else `$XDG_CACHE_HOME/ferry`
 * (`~/.cache/ferry`), `~/Library/Caches/ferry` on macOS, `%LOCALAPPDATA%\ferry\cache` on Windows.
 */
export function defaultCacheDir(
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
): string {
  if (env.FERRY_CACHE) return path.resolve(env.FERRY_CACHE);
  if (platform === "win32")
    return path.join(windowsAppDataDir(env, "LOCALAPPDATA"), "ferry", "cache");
  if (platform === "darwin") return path.join(os.homedir(), "Library", "Caches", "ferry");
  return path.join(xdgBaseDir(env, "XDG_CACHE_HOME", ".cache"), "ferry");
}

/** A BlobReader over an open file, from byte `start` on (closed by `close`). */
export function fileReader(handle: FileHandle, file: string, start = 0): BlobReader {
  return {
    read: async (buffer, offset, length, position) => {
      try {
        return (await handle.read(buffer, offset, length, start + position)).bytesRead;
      } catch (error) {
        throw fromSystemError(error, file, "reading");
      }
    },
    close: () => handle.close(),
  };
}

/**
 * A persistent, content-addressed download cache. `blobs/sha256/<hex>` holds only blobs whose
 * bytes the copy engine hashed to their name (and counted to their size) as it read them from
 * the download, in the run that downloaded them; they are renamed in only after that verdict.
 * Entries are not fsynced and not trusted blindly: every later read goes through the engine's
 * hash again, and a damaged entry is evicted with advice, so a power cut costs one download.
 * `partial/<hex>` holds downloads not (yet) verified — cut, or finished but not read by a
 * successful copy — that resume where they stopped, each guarded by a `<hex>.lock` naming the
 * process writing it. Bytes the engine rejected are deleted, never renamed into `blobs/`.
 *
 * A save into a single-file bundle does not copy what it downloads into the cache: the bytes
 * go straight into the bundle, the cache journals where (`journal/`, so a later run can take
 * them over if this one is killed), and after the bundle is complete it keeps a pointer to
 * each verified blob in it (`located/`, see `LocatedBlobs`), valid while the bundle is the
 * file it was. A save that fails copies what it had into `blobs/` and `partial/` first.
 */
export class BlobCache {
  private readonly blobsDir: string;
  private readonly partialDir: string;
  readonly located: LocatedBlobs;

  private constructor(readonly dir: string) {
    this.blobsDir = path.join(dir, "blobs", "sha256");
    this.partialDir = path.join(dir, "partial");
    this.located = new LocatedBlobs(dir);
  }

  static async open(dir: string): Promise<BlobCache> {
    const cache = new BlobCache(path.resolve(dir));
    try {
      await mkdir(cache.blobsDir, { recursive: true });
      await mkdir(cache.partialDir, { recursive: true });
      await cache.located.create();
    } catch (error) {
      throw fromSystemError(error, cache.dir, "creating the download cache");
    }
    await cache.adoptOrphans();
    return cache;
  }

  /**
   * Take over what killed saves were downloading straight into their bundles: each journaled
   * blob's bytes are copied out of the dead process's temp file into `partial/` (or `blobs/`
   * when the engine had verified all of it), and the temp file is removed. The bytes are not
   * trusted: the engine hashes them again when a save uses them.
   */
  async adoptOrphans(): Promise<void> {
    const orphans = await this.located.orphans();
    const deadFiles = new Map<string, JournalEntry>();
    for (const orphan of orphans) {
      deadFiles.set(orphan.file, orphan);
      await this.adoptOrphan(orphan).catch(() => {});
      await this.located.dropOrphan(orphan);
    }
    for (const [file, orphan] of deadFiles) {
      if (tempNameOwner(file) === orphan.pid) await rm(file, { force: true }).catch(() => {});
    }
  }

  private async adoptOrphan(orphan: JournalEntry): Promise<void> {
    const partial = this.partialPath(orphan.digest);
    // The dead process's claim on the partial (its lock is broken if it is still there); a
    // live process downloading the blob now keeps it.
    const lock = await tryLock(`${partial}.lock`, `adopting ${orphan.digest}`);
    if ("busy" in lock) return;
    try {
      if (await this.has(orphan)) {
        await rm(partial, { force: true });
        return;
      }
      if (orphan.length <= 0 || orphan.length > orphan.size) return;
      const whole = orphan.verified && orphan.length === orphan.size;
      const existing = (await lstat(partial).catch(() => undefined))?.size ?? 0;
      if (!whole && existing >= orphan.length) return;
      await this.keepRegion(orphan.digest, orphan, orphan.length, whole);
    } finally {
      await lock.release();
    }
  }

  /**
   * Keep the first `length` bytes of a blob that sit in another file (a bundle a save was
   * writing when it failed or was killed): a whole, verified blob goes into `blobs/`, the start
   * of a cut one into `partial/` (replacing what was there) to resume from. Copied, not
   * trusted: the engine hashes them again when a save uses them. The caller holds or has
   * released the blob's partial claim. False when the file had fewer bytes.
   */
  async keepRegion(
    digest: Digest,
    from: { file: string; offset: number },
    length: number,
    whole: boolean,
  ): Promise<boolean> {
    const partial = this.partialPath(digest);
    const temp = uniqueTempName(partial);
    try {
      const copied = await copyRegion(from.file, from.offset, length, temp);
      if (copied !== length) return false;
      await rename(temp, whole ? this.blobPath(digest) : partial);
      if (whole) await rm(partial, { force: true });
      return true;
    } finally {
      await rm(temp, { force: true }).catch(() => {});
    }
  }

  blobPath(digest: Digest): string {
    return path.join(this.blobsDir, digestHex(digest));
  }

  private partialPath(digest: Digest): string {
    return path.join(this.partialDir, digestHex(digest));
  }

  /** Whether `blobs/` holds a copy (not a pointer into a bundle; a link is not a copy). */
  async hasCopy(digest: Digest): Promise<boolean> {
    return (await lstat(this.blobPath(digest)).catch(() => undefined))?.isFile() ?? false;
  }

  /** Whether a verified copy is here (same size); marks it used. */
  async has(descriptor: Pick<Descriptor, "digest" | "size">): Promise<boolean> {
    const file = this.blobPath(descriptor.digest);
    try {
      const info = await lstat(file);
      if (info.isFile() && info.size === descriptor.size) {
        const now = new Date();
        await utimes(file, now, now).catch(() => {});
        return true;
      }
    } catch {
      // not copied in: perhaps kept in a bundle
    }
    const kept = await this.located.find(descriptor.digest, descriptor.size);
    if (!kept) return false;
    await this.located.touch(kept);
    return true;
  }

  /**
   * Positional reads over a cached blob, for the copy engine (which hashes every byte). The
   * file must still have the blob's size: one that grew or shrank fails with ESIZE.
   */
  async openReader(descriptor: Pick<Descriptor, "digest" | "size">): Promise<BlobReader> {
    const file = this.blobPath(descriptor.digest);
    let handle: FileHandle;
    let size: number;
    try {
      ({
        handle,
        info: { size },
      } = await openRegularFile(file, cachedBlobRules(descriptor.digest)));
    } catch (error) {
      const kept = await this.located.find(descriptor.digest, descriptor.size);
      if (kept) {
        // The user's bundle: a link to it is fine, a FIFO is not.
        const opened = await openRegularFile(kept.file, { code: "EIO", followLinks: true });
        return fileReader(opened.handle, kept.file, kept.offset);
      }
      throw error;
    }
    if (size !== descriptor.size) {
      await handle.close().catch(() => {});
      throw new SizeError(
        `blob ${descriptor.digest} in the download cache`,
        descriptor.size,
        size,
        {
          details: { digest: descriptor.digest },
        },
      );
    }
    return fileReader(handle, file);
  }

  /** Remove a cached blob (e.g. one that failed the engine's check). */
  async evict(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
    await this.located.forget(digest);
  }

  /**
   * Claim the partial download of a blob. When another live process holds it, this one gets a
   * private file instead (no resume, no interference). A lock left by a process that is gone
   * is taken over (by exactly one claimant: see util/lock.ts).
   */
  async claimPartial(descriptor: Pick<Descriptor, "digest" | "size">): Promise<PartialClaim> {
    const shared = this.partialPath(descriptor.digest);
    const taken = await tryLock(`${shared}.lock`, `downloading ${descriptor.digest}`);
    const lock: HeldLock | undefined = "busy" in taken ? undefined : taken;
    const owned = lock !== undefined;
    const target = owned ? shared : uniqueTempName(shared);
    let file: PartialFile;
    try {
      file = await PartialFile.open(target, owned, descriptor.size);
    } catch (error) {
      await lock?.release();
      throw error;
    }
    let released = false;
    const release = async (outcome: "published" | "keep" | "discard"): Promise<void> => {
      if (released) return;
      released = true;
      await file.close();
      try {
        if (outcome === "published") {
          await rename(target, this.blobPath(descriptor.digest)).catch((error: unknown) => {
            throw fromSystemError(error, this.blobPath(descriptor.digest), "writing");
          });
        } else if (outcome === "discard" || !owned) {
          await rm(target, { force: true });
        }
      } finally {
        await lock?.release();
      }
    };
    return { file, resumable: owned, release };
  }

  /** Everything in the cache: verified blobs and resumable partials. */
  async list(): Promise<{ blobs: CachedBlob[]; partials: CachedPartial[] }> {
    const blobs: CachedBlob[] = [];
    for (const name of await readdir(this.blobsDir).catch(() => [] as string[])) {
      if (!isSha256Hex(name)) continue;
      const info = await lstat(path.join(this.blobsDir, name)).catch(() => undefined);
      if (info?.isFile())
        blobs.push({ digest: digestFromHex(name), size: info.size, lastUsed: info.mtime });
    }
    const partials: CachedPartial[] = [];
    for (const name of await readdir(this.partialDir).catch(() => [] as string[])) {
      if (!isSha256Hex(name)) continue;
      const file = path.join(this.partialDir, name);
      const info = await lstat(file).catch(() => undefined);
      if (!info?.isFile()) continue;
      partials.push({
        digest: digestFromHex(name),
        size: info.size,
        modified: info.mtime,
        busy: await isLockHeld(`${file}.lock`),
      });
    }
    const copied = new Set(blobs.map((blob) => blob.digest as string));
    for (const listed of await this.located.listKept()) {
      if (copied.has(listed.digest)) continue;
      const kept = await this.located.check(listed);
      if (!kept) continue;
      blobs.push({
        digest: kept.digest,
        size: kept.size,
        lastUsed: new Date(kept.lastUsed),
        keptIn: kept.file,
      });
    }
    blobs.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
    return { blobs, partials };
  }

  /**
   * Remove blobs not used for `olderThanMs` (all of them with `all`) and partials not
   * touched for as long; partials another live process is writing are left alone.
   */
  async prune(options: {
    all?: boolean;
    olderThanMs?: number;
    now?: number;
  }): Promise<{ removed: number; bytes: number }> {
    const now = options.now ?? Date.now();
    const cutoff = options.all ? Number.POSITIVE_INFINITY : now - (options.olderThanMs ?? 0);
    const { blobs, partials } = await this.list();
    let removed = 0;
    let bytes = 0;
    for (const blob of blobs) {
      if (!options.all && blob.lastUsed.getTime() > cutoff) continue;
      removed++;
      if (blob.keptIn !== undefined) {
        // Only the pointer goes: the bundle it points into is the user's.
        await this.located.forget(blob.digest);
        continue;
      }
      await rm(this.blobPath(blob.digest), { force: true });
      bytes += blob.size;
    }
    for (const partial of partials) {
      if (partial.busy || (!options.all && partial.modified.getTime() > cutoff)) continue;
      const file = this.partialPath(partial.digest);
      // Under its lock, so a download that claims it meanwhile is not cut from under it.
      const lock = await tryLock(`${file}.lock`, "pruning the download cache");
      if ("busy" in lock) continue;
      try {
        await rm(file, { force: true });
      } finally {
        await lock.release();
      }
      removed++;
      bytes += partial.size;
    }
    for (const name of await readdir(this.partialDir).catch(() => [] as string[])) {
      if (!name.endsWith(".tmp")) continue;
      // Private downloads and lock records (`<hex>.lock.PID.HEX.tmp`), old formats included.
      const pid = tempNameOwner(name);
      if (pid === undefined || processLiveness({ pid }) === "gone")
        await rm(path.join(this.partialDir, name), { force: true });
    }
    return { removed, bytes };
  }
}
