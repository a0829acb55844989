import { randomUUID } from "node:crypto";
import { appendFile, mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { FerryError, fromSystemError, NotFoundError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { Digest } from "../../types/digest.js";
import type { ImageIndex } from "../../types/manifest.js";
import { syncDirectory, writeFileAtomic } from "../../util/atomic-file.js";
import { acquireLock } from "../../util/lock.js";
import {
  blobPath,
  checkOciLayoutFile,
  emptyIndex,
  OCI_LAYOUT_FILE,
  parseLayoutIndex,
  serializeIndex,
} from "./index-file.js";
import { DirectoryFiles } from "./layout-files.js";

/** ferry's working area inside a store: lock, temp files, load log. Not part of the layout. */
export const WORK_AREA = ".ferry";

export interface StoreOpenOptions {
  /** Create an empty store when the directory holds none. */
  create?: boolean;
  lockTimeoutMs?: number;
}

/**
 * The local store: an OCI image layout directory (readable by skopeo, umoci, podman, oras)
 * plus ferry's working area. Blobs are written tmp -> fsync -> rename; index.json is replaced
 * atomically, under an exclusive lock, after the blobs it names are in place.
 */
export class Store {
  readonly files: DirectoryFiles;
  readonly workArea: string;
  readonly tmpDir: string;
  readonly lockFile: string;
  readonly logFile: string;
  readonly indexFile: string;

  private constructor(
    readonly dir: string,
    private readonly lockTimeoutMs: number,
  ) {
    this.files = new DirectoryFiles(dir);
    this.workArea = path.join(dir, WORK_AREA);
    this.tmpDir = path.join(this.workArea, "tmp");
    this.lockFile = path.join(this.workArea, "lock");
    this.logFile = path.join(this.workArea, "log.jsonl");
    this.indexFile = path.join(dir, "index.json");
  }

  static async open(dir: string, options: StoreOpenOptions = {}): Promise<Store> {
    const store = new Store(path.resolve(dir), options.lockTimeoutMs ?? 120_000);
    const layout = await store.files.readFile("oci-layout", 4096);
    if (layout === undefined) {
      if (!options.create) {
        throw new NotFoundError(`no ferry store at ${store.dir}`, {
          hint: "load a bundle into it first (ferry load BUNDLE --store DIR), or check --store / FERRY_STORE",
        });
      }
      await store.initialize();
    } else {
      checkOciLayoutFile(layout, store.dir);
    }
    return store;
  }

  /** True when the directory holds a store (its oci-layout file is written last). */
  static async exists(dir: string): Promise<boolean> {
    return (await new DirectoryFiles(path.resolve(dir)).size("oci-layout")) !== undefined;
  }

  private async initialize(): Promise<void> {
    try {
      await mkdir(path.join(this.dir, "blobs", "sha256"), { recursive: true });
      await mkdir(this.tmpDir, { recursive: true });
    } catch (error) {
      throw fromSystemError(error, this.dir, "creating store");
    }
    await this.withLock("creating the store", async () => {
      if ((await this.files.size("index.json")) === undefined) {
        await writeFileAtomic(this.indexFile, serializeIndex(emptyIndex()), {
          tempDirectory: this.tmpDir,
        });
      }
      if ((await this.files.size("oci-layout")) === undefined) {
        await writeFileAtomic(path.join(this.dir, "oci-layout"), Buffer.from(OCI_LAYOUT_FILE), {
          tempDirectory: this.tmpDir,
        });
      }
    });
  }

  blobFile(digest: Digest): string {
    return path.join(this.dir, ...blobPath(digest).split("/"));
  }

  /** True when the blob is present with the right size (its bytes were checked on the way in). */
  async hasBlob(descriptor: Pick<Descriptor, "digest" | "size">): Promise<boolean> {
    try {
      const info = await stat(this.blobFile(descriptor.digest));
      return info.isFile() && info.size === descriptor.size;
    } catch {
      return false;
    }
  }

  async readIndex(): Promise<ImageIndex> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.indexFile);
    } catch (error) {
      throw fromSystemError(error, this.indexFile, "reading");
    }
    return parseLayoutIndex(bytes, this.dir);
  }

  /** Replace index.json atomically. The caller holds the lock. */
  async writeIndex(index: ImageIndex): Promise<void> {
    await writeFileAtomic(this.indexFile, serializeIndex(index), { tempDirectory: this.tmpDir });
  }

  async withLock<T>(purpose: string, action: () => Promise<T>): Promise<T> {
    await mkdir(this.workArea, { recursive: true }).catch((error: unknown) => {
      throw fromSystemError(error, this.workArea, "creating");
    });
    const lock = await acquireLock(this.lockFile, { purpose, timeoutMs: this.lockTimeoutMs });
    try {
      return await action();
    } finally {
      await lock.release();
    }
  }

  /** A fresh directory under the store's tmp/ (same filesystem as blobs/, so rename works). */
  async createStagingDir(kind: string): Promise<string> {
    const dir = path.join(this.tmpDir, `${kind}-${process.pid}-${randomUUID()}`);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw fromSystemError(error, dir, "creating");
    }
    return dir;
  }

  async removeStagingDir(dir: string): Promise<void> {
    if (!dir.startsWith(this.tmpDir + path.sep)) {
      throw new FerryError("EINTERNAL", `refusing to remove ${dir}: not in ${this.tmpDir}`);
    }
    await rm(dir, { recursive: true, force: true });
  }

  async syncBlobDirectory(): Promise<void> {
    await syncDirectory(path.join(this.dir, "blobs", "sha256"));
  }

  /** The store's stable id (made once, kept in the working area). */
  async id(): Promise<string> {
    const file = path.join(this.workArea, "store-id");
    try {
      return (await readFile(file, "utf8")).trim();
    } catch {
      const id = randomUUID();
      await writeFileAtomic(file, Buffer.from(`${id}\n`), { tempDirectory: this.tmpDir });
      return id;
    }
  }

  /** Append one JSON line to the load log (best effort durability; never holds secrets). */
  async appendLog(entry: Record<string, unknown>): Promise<void> {
    try {
      await appendFile(this.logFile, `${JSON.stringify(entry)}\n`);
    } catch (error) {
      throw fromSystemError(error, this.logFile, "writing");
    }
  }
}
