import { type FileHandle, open, rm } from "node:fs/promises";
import path from "node:path";
import { fromSystemError } from "../../errors.js";
import { syncDirectory } from "../../util/atomic-file.js";
import { fileOps } from "../../util/fs-retry.js";
import { trackRunTemp } from "../../util/run-temps.js";
import { uniqueTempName } from "../../util/temp-name.js";
import { writeFully } from "./random-access.js";
import type { ZipFinished, ZipOutput } from "./zip-output.js";

/**
 * Writeback of a bundle file is started every this many bytes (one fdatasync at a time, not
 * waited for): the disk writes while later blobs are read and hashed, and the sync at commit
 * has little left, instead of flushing the whole bundle at the end.
 */
const SYNC_AHEAD_BYTES = 64 * 1024 * 1024;

/**
 * One file, written under a temp name beside the target and renamed by `commit()`. Writes go
 * where they are told, several at once (`positional`): the zip writer writes concurrent
 * entries into their reserved regions.
 */
export class FileOutput implements ZipOutput {
  readonly positional = true;
  private closed = false;
  private unsynced = 0;
  /** The writeback started in the background, if one is running. */
  private syncing: Promise<void> | undefined;
  private syncError: unknown;
  /** Forget the temp file in the run's list (ferry stopped at once removes what is listed). */
  private readonly untrack: () => void;

  private constructor(
    readonly target: string,
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {
    this.untrack = trackRunTemp(tempPath);
  }

  static async create(target: string): Promise<FileOutput> {
    const tempPath = uniqueTempName(target);
    try {
      return new FileOutput(target, tempPath, await open(tempPath, "wx", 0o644));
    } catch (error) {
      throw fromSystemError(error, target, "creating");
    }
  }

  async write(buffer: Uint8Array, position: number): Promise<void> {
    if (this.syncError !== undefined) throw this.syncError;
    await writeFully(this.handle, buffer, position);
    this.unsynced += buffer.length;
    if (this.unsynced >= SYNC_AHEAD_BYTES && !this.syncing) this.syncAhead();
  }

  private syncAhead(): void {
    this.unsynced = 0;
    this.syncing = this.handle.datasync().then(
      () => {
        this.syncing = undefined;
      },
      (error: unknown) => {
        this.syncError ??= error;
        this.syncing = undefined;
      },
    );
  }

  settle(): void {}

  async commit(size: number): Promise<ZipFinished> {
    await this.syncing;
    if (this.syncError !== undefined) throw this.syncError;
    await this.handle.datasync();
    await this.handle.close();
    this.closed = true;
    // Retried on Windows while a scanner holds the new file (see util/fs-retry.ts).
    await fileOps.rename(this.tempPath, this.target);
    this.untrack();
    await syncDirectory(path.dirname(this.target));
    return { size };
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.syncing;
      await this.handle.close().catch(() => {});
    }
    await rm(this.tempPath, { force: true }).then(this.untrack, () => {});
  }
}
