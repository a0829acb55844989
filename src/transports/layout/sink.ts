import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { FerryError, fromSystemError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { digestHex } from "../../types/digest.js";
import type { ImageIndex } from "../../types/manifest.js";
import type { BlobWriter, ImageRecord, Sink } from "../../types/transport.js";
import { meansNoHardLinks } from "../../util/fs-retry.js";
import { trackRunTemp } from "../../util/run-temps.js";
import { createOwnFile, setOwnMode } from "../../util/safe-open.js";
import { attachedAnnotations } from "./attached-records.js";
import { BackgroundSyncs } from "./background-syncs.js";
import { refNameOf, upsertRef } from "./index-file.js";
import { STORE_MODES, type Store } from "./store.js";

/**
 * Start writeback of a blob being written every this many bytes. Measured on the 1 GiB
 * benchmark (2 cores, ext4): 64 MiB took load from 1.65 s to 1.51 s (medians of 6); 16 MiB
 * was no better and costs more syncs.
 */
const SYNC_AHEAD_BYTES = 64 * 1024 * 1024;

/** A name that moved: `ref` pointed at `from` and now points at `to`. */
export interface TagChange {
  ref: string;
  from?: string;
  to: string;
}

export interface StoreSinkOptions {
  /** Extra annotations for index entries, per image name. */
  indexAnnotations?: (record: ImageRecord) => Record<string, string>;
  /**
   * Extra names to point at images at commit (e.g. `latest` for OS images). Called under the
   * store lock with index.json as it is then, after this load's own names were added.
   */
  extraTags?: (
    records: ImageRecord[],
    index: ImageIndex,
  ) => Array<{ ref: string; record: ImageRecord }>;
  /** Written to the load log at commit. */
  logEntry?: Record<string, unknown>;
  /**
   * Called at commit under the store lock, with index.json as it is then, before any name
   * moves (e.g. the anti-rollback check and record). Throwing refuses the commit: the blobs it
   * added are taken back and the store is left as it was.
   */
  beforeIndexWrite?: (index: ImageIndex) => Promise<void>;
  /** Stop waiting for the store lock when this aborts (an interrupted load): its reason is thrown. */
  signal?: AbortSignal;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The system's error code behind a failure (EBUSY), else its message. */
function codeOf(error: unknown): string {
  const cause =
    error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
  return cause?.code ?? (error as NodeJS.ErrnoException).code ?? messageOf(error);
}

/**
 * Writes into the local store. Blobs are staged in the store's tmp/ (each hashed by the engine
 * as it is written, then fsynced); nothing is visible until `commit()`, which, under the store
 * lock, moves staged blobs into blobs/ and then replaces index.json in one rename.
 */
export class StoreSink implements Sink {
  readonly label: string;
  readonly maxConcurrentBlobs = 4;
  readonly tagChanges: TagChange[] = [];
  private stagingDir: Promise<string> | undefined;
  private readonly staged = new Map<string, Descriptor>();
  private readonly records: ImageRecord[] = [];
  /** Staged files still being made durable (fdatasync, close, rename). */
  private readonly syncs = new BackgroundSyncs();
  private untrackStaging: (() => void) | undefined;
  /** Set once a link failed because the store's file system has none (FAT32, exFAT). */
  private noHardLinks = false;
  /**
   * What went wrong after the images were installed, which the load must not fail for (a
   * staging folder Windows would not let go of yet, a log line not written).
   */
  readonly warnings: string[] = [];

  constructor(
    private readonly store: Store,
    private readonly options: StoreSinkOptions = {},
  ) {
    this.label = `store ${store.dir}`;
  }

  private get ops() {
    return this.store.fileOps;
  }

  private staging(): Promise<string> {
    this.stagingDir ??= this.store.createStagingDir("load").then((dir) => {
      // Listed for a second Ctrl-C, which stops ferry at once (see util/run-temps.ts).
      this.untrackStaging = trackRunTemp(dir);
      return dir;
    });
    return this.stagingDir;
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.staged.has(descriptor.digest) || this.store.hasBlob(descriptor);
  }

  private async stagedPath(descriptor: Descriptor): Promise<string> {
    return path.join(await this.staging(), digestHex(descriptor.digest));
  }

  /** A staged file: private (0600) until makeDurable gives it the store's file mode. */
  private createStaged(file: string, descriptor: Descriptor): Promise<FileHandle> {
    return createOwnFile(file, STORE_MODES.tempFile, {
      existing: "truncate",
      rules: this.store.rulesFor(`blobs/sha256/${digestHex(descriptor.digest)}`),
    });
  }

  async putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    const target = await this.stagedPath(descriptor);
    const partial = `${target}.partial`;
    const where = this.store.blobFile(descriptor.digest);
    let handle: FileHandle | undefined;
    try {
      handle = await this.createStaged(partial, descriptor);
      for await (const chunk of stream) await handle.write(chunk as Buffer);
    } catch (error) {
      await handle?.close().catch(() => {});
      await this.ops.removeTree(partial).catch(() => {});
      throw fromSystemError(error, where, "writing");
    }
    await this.makeDurable(descriptor, handle, partial, target);
  }

  /** The same staging as putBlob, fed by the engine's verified pump. */
  async blobWriter(descriptor: Descriptor): Promise<BlobWriter> {
    const target = await this.stagedPath(descriptor);
    const partial = `${target}.partial`;
    const where = this.store.blobFile(descriptor.digest);
    let file: FileHandle;
    try {
      file = await this.createStaged(partial, descriptor);
    } catch (error) {
      throw fromSystemError(error, where, "writing");
    }
    let position = 0;
    // Writeback is started every SYNC_AHEAD_BYTES (one fdatasync at a time, not waited for),
    // so the disk works while later chunks are hashed and the sync at commit has little left.
    let unsynced = 0;
    let ahead: Promise<void> | undefined;
    let aheadError: unknown;
    const syncAhead = () => {
      unsynced = 0;
      ahead = file.datasync().then(
        () => {
          ahead = undefined;
        },
        (error: unknown) => {
          aheadError ??= error;
          ahead = undefined;
        },
      );
    };
    return {
      write: async (buffer, length) => {
        try {
          if (aheadError) throw aheadError;
          let written = 0;
          while (written < length) {
            const { bytesWritten } = await file.write(buffer, written, length - written, position);
            written += bytesWritten;
            position += bytesWritten;
          }
        } catch (error) {
          throw fromSystemError(error, where, "writing");
        }
        unsynced += length;
        if (unsynced >= SYNC_AHEAD_BYTES && !ahead) syncAhead();
      },
      finish: async () => {
        await ahead;
        if (aheadError) {
          await file.close().catch(() => {});
          await this.ops.removeTree(partial).catch(() => {});
          throw fromSystemError(aheadError, where, "writing");
        }
        await this.makeDurable(descriptor, file, partial, target);
      },
      discard: async () => {
        await ahead;
        await file.close().catch(() => {});
        await this.ops.removeTree(partial).catch(() => {});
      },
    };
  }

  /**
   * A staged blob whose bytes were all written (and, from the pump, verified): fdatasync,
   * close and rename it to its staged name in the background, so the next blob does not wait
   * for the disk. `commit()` waits for every one of these before anything is published, and
   * fails if any failed (./background-syncs.ts bounds how many run and wait).
   */
  private async makeDurable(
    descriptor: Descriptor,
    file: FileHandle,
    from: string,
    to: string,
  ): Promise<void> {
    const where = this.store.blobFile(descriptor.digest);
    await this.syncs.add(async () => {
      try {
        // Readable by all once linked into blobs/ (see STORE_MODES), whatever the umask.
        await setOwnMode(file, STORE_MODES.file);
        await file.datasync();
        await file.close();
        if (from !== to) await this.ops.rename(from, to);
      } catch (error) {
        await file.close().catch(() => {});
        await this.ops.removeTree(from).catch(() => {});
        throw fromSystemError(error, where, "writing");
      }
    });
    this.staged.set(descriptor.digest, descriptor);
  }

  async putManifest(descriptor: Descriptor, bytes: Buffer): Promise<void> {
    const target = await this.stagedPath(descriptor);
    let handle: FileHandle | undefined;
    try {
      handle = await this.createStaged(target, descriptor);
      await handle.writeFile(bytes);
    } catch (error) {
      await handle?.close().catch(() => {});
      throw fromSystemError(error, this.store.blobFile(descriptor.digest), "writing");
    }
    await this.makeDurable(descriptor, handle, target, target);
  }

  addImage(record: ImageRecord): void {
    this.records.push(record);
  }

  /** Blob files this commit added to blobs/ (removed again if the commit fails). */
  private readonly published: string[] = [];

  /** Move staged blobs into blobs/: a blob already there (a concurrent load) is kept. */
  private async publishBlobs(): Promise<void> {
    await this.store.ensureBlobDir();
    for (const descriptor of this.staged.values()) {
      const from = await this.stagedPath(descriptor);
      const to = this.store.blobFile(descriptor.digest);
      if (await this.install(descriptor, from, to)) this.published.push(to);
    }
    await this.store.syncBlobDirectory();
  }

  /**
   * Hard-link a staged blob into blobs/ (false if one is already there: it is kept). Where the
   * store's file system has no hard links (FAT32, exFAT: see `meansNoHardLinks`) the staged
   * file is renamed into place instead, for this and every later blob of the commit (under the
   * store lock, so no other load publishes meanwhile). What is already there must be a regular
   * file (a link or FIFO planted there: EBADSTORE).
   */
  private async install(descriptor: Descriptor, from: string, to: string): Promise<boolean> {
    if (!this.noHardLinks) {
      try {
        await this.ops.link(from, to);
        await this.ops.unlink(from).catch(() => {});
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST")
          return this.keepExisting(descriptor, from);
        if (!meansNoHardLinks(error)) throw fromSystemError(error, to, "installing");
        this.noHardLinks = true;
      }
    }
    if (await this.store.blobFileExists(descriptor)) return this.keepExisting(descriptor, from);
    try {
      await this.ops.rename(from, to);
    } catch (error) {
      throw fromSystemError(error, to, "installing");
    }
    return true;
  }

  /** A blob already in blobs/ is kept (it must be a regular file); the staged copy goes. */
  private async keepExisting(descriptor: Descriptor, from: string): Promise<false> {
    await this.store.hasBlob(descriptor);
    await this.ops.unlink(from).catch(() => {});
    return false;
  }

  private async checkComplete(): Promise<void> {
    for (const record of this.records) {
      for (const content of record.contents) {
        const { digest } = content;
        if (this.staged.has(digest)) continue;
        if (!(await this.store.hasBlob(content))) {
          throw new FerryError(
            "ECONFLICT",
            `blob ${digest} of ${record.name} disappeared from the store during the load (a concurrent rmi or gc?)`,
            { hint: "run the same load again" },
          );
        }
      }
    }
  }

  async commit(): Promise<void> {
    // Every staged blob durable before any of them is linked into blobs/ (outside the lock:
    // other loads need not wait for this one's disk).
    await this.syncs.settle();
    const lockOptions = this.options.signal ? { signal: this.options.signal } : {};
    await this.store.withLock(
      "loading images",
      async () => {
        try {
          await this.publishAndName();
        } catch (error) {
          // Still under the lock: no name refers to the blobs this commit added; take them back
          // so a failed load (a full disk at index.json, say) leaves the store as it was.
          for (const file of this.published) await this.ops.unlink(file).catch(() => {});
          throw error;
        }
        if (this.options.logEntry) {
          // The images are installed; a log line that cannot be written must not undo that.
          await this.store
            .appendLog({
              ...this.options.logEntry,
              time: new Date().toISOString(),
              images: this.records.map((r) => ({ name: r.name, digest: r.descriptor.digest })),
              tagsMoved: this.tagChanges,
            })
            .catch((error: unknown) => {
              this.warnings.push(
                `the load log ${this.store.logFile} was not written: ${messageOf(error)}`,
              );
            });
        }
      },
      lockOptions,
    );
    // Installed. A staging folder that cannot be removed now (on Windows a scanner may hold a
    // file in it) must not turn that into a failure: the next load, `ferry gc` and
    // `ferry check --repair` remove it once this process is gone.
    const dir = await this.stagingDir?.catch(() => undefined);
    await this.cleanUp().catch((error: unknown) => {
      this.warnings.push(
        `the staging folder ${dir ?? this.store.tmpDir} was not removed (${codeOf(error)}: on Windows another program, such as a virus scanner, may still hold a file in it); the next load, \`ferry gc\` or \`ferry check --repair\` removes it`,
      );
    });
  }

  private async publishAndName(): Promise<void> {
    {
      await this.publishBlobs();
      await this.checkComplete();
      let index = await this.store.readIndex();
      await this.options.beforeIndexWrite?.(index);
      const names: Array<{ ref: string; record: ImageRecord }> = this.records.map((record) => ({
        ref: record.name,
        record,
      }));
      const upsert = ({ ref, record }: { ref: string; record: ImageRecord }) => {
        const annotations = {
          ...attachedAnnotations(
            record,
            index.manifests.find((d) => refNameOf(d) === ref),
          ),
          ...this.options.indexAnnotations?.(record),
        };
        const { index: next, previous } = upsertRef(index, ref, record.descriptor, annotations);
        index = next;
        if (previous?.digest !== record.descriptor.digest) {
          const change: TagChange = { ref, to: record.descriptor.digest };
          if (previous) change.from = previous.digest;
          this.tagChanges.push(change);
        }
      };
      for (const name of names) upsert(name);
      for (const name of this.options.extraTags?.(this.records, index) ?? []) upsert(name);
      if (this.tagChanges.length > 0) await this.store.writeIndex(index);
    }
  }

  async abort(): Promise<void> {
    await this.cleanUp();
  }

  private async cleanUp(): Promise<void> {
    await this.syncs.drain();
    const dir = await this.stagingDir?.catch(() => undefined);
    this.stagingDir = undefined;
    this.staged.clear();
    if (dir) await this.store.removeStagingDir(dir);
    this.untrackStaging?.();
    this.untrackStaging = undefined;
  }
}
