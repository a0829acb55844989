import { randomUUID } from "node:crypto";
import { lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { FerryError, fromSystemError, isFerryError, NotFoundError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { Digest } from "../../types/digest.js";
import type { ImageIndex } from "../../types/manifest.js";
import { syncDirectory, writeFileAtomic } from "../../util/atomic-file.js";
import { type FileOps, fileOps } from "../../util/fs-retry.js";
import { acquireLock } from "../../util/lock.js";
import {
  appendToOwnFile,
  describeKind,
  ensureOwnDirectory,
  type FileRules,
  NotRegularFileError,
  readRegularFile,
  requireDirectory,
  setOwnDirectoryMode,
} from "../../util/safe-open.js";
import { uniqueTempName } from "../../util/temp-name.js";
import {
  blobPath,
  checkOciLayoutFile,
  emptyIndex,
  OCI_LAYOUT_FILE,
  parseLayoutIndex,
  serializeIndex,
} from "./index-file.js";
import { DirectoryFiles } from "./layout-files.js";
import { findStaleTemp, recordStagingOwner, type StaleTemp } from "./staging.js";

/** ferry's working area inside a store: lock, temp files, load log. Not part of the layout. */
export const WORK_AREA = ".ferry";

/**
 * The modes of what ferry creates in a store, whatever the umask: the layout is readable by
 * everyone (other tools and users read images from it; images are not secrets: to keep a
 * store private, put it in a private folder), writable only by its owner; staging and
 * quarantine are private, and a file is private until it is renamed or linked into place.
 */
export const STORE_MODES = {
  directory: 0o755,
  file: 0o644,
  privateDirectory: 0o700,
  tempFile: 0o600,
} as const;

const CANNOT_REPAIR =
  "ferry cannot repair this: restore the file from a backup, or move the store aside and load the bundles into a new one";
const NOT_OURS =
  "move it aside: ferry does not follow links inside its store (to keep a store on another disk, point --store or FERRY_STORE there)";

function blobRules(hex: string, store: string): FileRules {
  return {
    code: "EBADSTORE",
    what: `blob sha256:${hex}`,
    hint: `run \`ferry check --repair --store ${store}\`: it moves such blobs to .ferry/quarantine; then load the bundle of the images that need it again`,
  };
}

export interface StoreOpenOptions {
  /** Create an empty store when the directory holds none. */
  create?: boolean;
  lockTimeoutMs?: number;
  /** rename/unlink/link/removal (default: Node's, retried on Windows; tests inject faults). */
  fileOps?: FileOps;
}

/**
 * The local store: an OCI image layout directory (readable by skopeo, umoci, podman, oras)
 * plus ferry's working area. Blobs are written tmp -> fsync -> rename; index.json is replaced
 * atomically, under an exclusive lock, after the blobs it names are in place.
 *
 * Every file of the store is opened without following a symbolic link and must be a regular
 * file (see util/safe-open.ts); its folders must be folders, not links. Anything else is
 * refused with EBADSTORE naming the path, before a byte of it is read.
 */
export class Store {
  readonly files: DirectoryFiles;
  readonly workArea: string;
  readonly tmpDir: string;
  readonly lockFile: string;
  readonly logFile: string;
  readonly indexFile: string;
  readonly blobDir: string;

  private constructor(
    readonly dir: string,
    private readonly lockTimeoutMs: number,
    /** rename, unlink, link and removal, retried where Windows needs it. */
    readonly fileOps: FileOps,
  ) {
    this.files = new DirectoryFiles(dir, (relative) => this.rulesFor(relative));
    this.workArea = path.join(dir, WORK_AREA);
    this.tmpDir = path.join(this.workArea, "tmp");
    this.lockFile = path.join(this.workArea, "lock");
    this.logFile = path.join(this.workArea, "log.jsonl");
    this.indexFile = path.join(dir, "index.json");
    this.blobDir = path.join(dir, "blobs", "sha256");
  }

  /** How a store file that is not a regular file is reported. */
  rulesFor(relativePath: string): FileRules {
    const blob = /^blobs\/sha256\/([0-9a-f]+)$/.exec(relativePath);
    if (blob) return blobRules(blob[1] as string, this.dir);
    return { code: "EBADSTORE", hint: CANNOT_REPAIR };
  }

  static async open(dir: string, options: StoreOpenOptions = {}): Promise<Store> {
    const store = new Store(
      path.resolve(dir),
      options.lockTimeoutMs ?? 120_000,
      options.fileOps ?? fileOps,
    );
    const layout = await store.files.readFile("oci-layout", 4096);
    if (layout === undefined) {
      if (!options.create) {
        if ((await store.files.size("index.json")) !== undefined) {
          throw new FerryError(
            "EBADSTORE",
            `${store.dir} has an index.json but no oci-layout file: it is not a complete OCI image layout`,
            {
              hint: "if it is a ferry store whose creation was cut short, `ferry load` completes it; otherwise check --store / FERRY_STORE",
            },
          );
        }
        throw new NotFoundError(`no ferry store at ${store.dir}`, {
          hint: "load a bundle into it first (ferry load BUNDLE --store DIR), or check --store / FERRY_STORE",
        });
      }
      await store.initialize();
    } else {
      store.checkLayoutFile(layout);
    }
    await store.checkFolders();
    return store;
  }

  /** True when the directory holds a store (its oci-layout file is written last). */
  static async exists(dir: string): Promise<boolean> {
    return (
      (await lstat(path.join(path.resolve(dir), "oci-layout")).catch(() => undefined)) !== undefined
    );
  }

  private checkLayoutFile(bytes: Buffer): void {
    checkOciLayoutFile(bytes, this.dir);
  }

  /** The store's folders, where present, are folders: not links, not files. */
  private async checkFolders(): Promise<void> {
    const rules: FileRules = { code: "EBADSTORE", hint: NOT_OURS };
    for (const folder of [path.join(this.dir, "blobs"), this.blobDir, this.workArea, this.tmpDir]) {
      await requireDirectory(folder, rules);
    }
  }

  private async makeFolder(folder: string, mode: number): Promise<void> {
    await ensureOwnDirectory(folder, mode, { code: "EBADSTORE", hint: NOT_OURS });
  }

  private async initialize(): Promise<void> {
    let created: string | undefined;
    try {
      created = await mkdir(this.dir, { recursive: true, mode: STORE_MODES.directory });
    } catch (error) {
      throw fromSystemError(error, this.dir, "creating store");
    }
    // A folder ferry made for the store gets the store's mode; one that was there keeps its own.
    if (created !== undefined) {
      await setOwnDirectoryMode(this.dir, STORE_MODES.directory, { code: "EBADSTORE" });
    }
    await this.makeFolder(path.join(this.dir, "blobs"), STORE_MODES.directory);
    await this.makeFolder(this.blobDir, STORE_MODES.directory);
    await this.makeFolder(this.workArea, STORE_MODES.directory);
    await this.makeFolder(this.tmpDir, STORE_MODES.privateDirectory);
    await this.withLock("creating the store", async () => {
      if ((await this.files.size("index.json")) === undefined) {
        await writeFileAtomic(this.indexFile, serializeIndex(emptyIndex()), {
          tempDirectory: this.tmpDir,
          mode: STORE_MODES.file,
          fileOps: this.fileOps,
        });
      }
      if ((await this.files.size("oci-layout")) === undefined) {
        await writeFileAtomic(path.join(this.dir, "oci-layout"), Buffer.from(OCI_LAYOUT_FILE), {
          tempDirectory: this.tmpDir,
          mode: STORE_MODES.file,
          fileOps: this.fileOps,
        });
      }
    });
  }

  /** Whether anything is at the blob's name (not following a link). */
  async blobFileExists(descriptor: Pick<Descriptor, "digest">): Promise<boolean> {
    return (await lstat(this.blobFile(descriptor.digest)).catch(() => undefined)) !== undefined;
  }

  blobFile(digest: Digest): string {
    return path.join(this.dir, ...blobPath(digest).split("/"));
  }

  /**
   * True when the blob is present with the right size (its bytes were checked on the way in).
   * A blob file that is not a regular file (a link, a FIFO) is refused: EBADSTORE.
   */
  async hasBlob(descriptor: Pick<Descriptor, "digest" | "size">): Promise<boolean> {
    const file = this.blobFile(descriptor.digest);
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await lstat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw fromSystemError(error, file, "reading");
    }
    if (!info.isFile()) {
      const hex = descriptor.digest.slice("sha256:".length);
      throw new NotRegularFileError(file, describeKind(info), blobRules(hex, this.dir));
    }
    return info.size === descriptor.size;
  }

  async readIndex(): Promise<ImageIndex> {
    const bytes = await this.files.readFile("index.json", 64 * 1024 * 1024);
    if (bytes === undefined) {
      throw new FerryError("EBADSTORE", `${this.indexFile} is missing`, { hint: CANNOT_REPAIR });
    }
    return parseLayoutIndex(bytes, this.dir);
  }

  /** Replace index.json atomically. The caller holds the lock. */
  async writeIndex(index: ImageIndex): Promise<void> {
    await writeFileAtomic(this.indexFile, serializeIndex(index), {
      tempDirectory: this.tmpDir,
      mode: STORE_MODES.file,
      fileOps: this.fileOps,
    });
  }

  /** Run `action` under the store lock; with `signal`, waiting for the lock stops when it aborts. */
  async withLock<T>(
    purpose: string,
    action: () => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    await this.makeFolder(this.workArea, STORE_MODES.directory);
    const lock = await acquireLock(this.lockFile, {
      purpose,
      timeoutMs: this.lockTimeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      return await action();
    } finally {
      await lock.release();
    }
  }

  /**
   * A fresh private directory under the store's tmp/ (same filesystem as blobs/, so links
   * work), named after this process and holding its record (`owner.json`: pid, host, start
   * time, boot), so a later run can tell when its maker is gone. What runs that are provably
   * gone left in tmp/ (a killed load's staged blobs) is removed first.
   */
  async createStagingDir(kind: string): Promise<string> {
    await this.makeFolder(this.workArea, STORE_MODES.directory);
    await this.makeFolder(this.tmpDir, STORE_MODES.privateDirectory);
    await this.removeStaleTemp();
    const dir = uniqueTempName(path.join(this.tmpDir, kind));
    await this.makeFolder(dir, STORE_MODES.privateDirectory);
    await recordStagingOwner(dir, { mode: STORE_MODES.tempFile, fileOps: this.fileOps });
    return dir;
  }

  /**
   * Staging folders and temp files in tmp/ whose maker is provably gone, with the bytes each
   * holds (./staging.ts).
   */
  staleTemp(): Promise<StaleTemp[]> {
    return findStaleTemp(this.tmpDir, NOT_OURS);
  }

  /** Remove what `staleTemp` finds; what cannot be removed now is left for the next run. */
  async removeStaleTemp(): Promise<StaleTemp[]> {
    const removed: StaleTemp[] = [];
    for (const stale of await this.staleTemp()) {
      try {
        await this.fileOps.removeTree(stale.path);
        removed.push(stale);
      } catch {
        // Held by another program (Windows): the next run, `ferry gc` or `check --repair` retries.
      }
    }
    return removed;
  }

  /** The quarantine folder (private), created when missing. */
  async quarantineDir(): Promise<string> {
    const dir = path.join(this.workArea, "quarantine");
    await this.makeFolder(this.workArea, STORE_MODES.directory);
    await this.makeFolder(dir, STORE_MODES.privateDirectory);
    return dir;
  }

  /** The blob folder, created when missing (a folder, never a link). */
  async ensureBlobDir(): Promise<void> {
    await this.makeFolder(path.join(this.dir, "blobs"), STORE_MODES.directory);
    await this.makeFolder(this.blobDir, STORE_MODES.directory);
  }

  async removeStagingDir(dir: string): Promise<void> {
    if (!dir.startsWith(this.tmpDir + path.sep)) {
      throw new FerryError("EINTERNAL", `refusing to remove ${dir}: not in ${this.tmpDir}`);
    }
    try {
      await this.fileOps.removeTree(dir);
    } catch (error) {
      throw fromSystemError(error, dir, "removing");
    }
  }

  async syncBlobDirectory(): Promise<void> {
    await syncDirectory(this.blobDir);
  }

  /** The store's stable id (made once, kept in the working area). */
  async id(): Promise<string> {
    const file = path.join(this.workArea, "store-id");
    try {
      return (await readRegularFile(file, { code: "EBADSTORE", hint: NOT_OURS }))
        .toString("utf8")
        .trim();
    } catch (error) {
      if (!isFerryError(error) || error.code !== "ENOTFOUND") throw error;
      const id = randomUUID();
      await writeFileAtomic(file, Buffer.from(`${id}\n`), {
        tempDirectory: this.tmpDir,
        mode: STORE_MODES.file,
        fileOps: this.fileOps,
      });
      return id;
    }
  }

  private logRules(): FileRules {
    return {
      code: "EBADSTORE",
      what: "the store's load log",
      hint: "remove it: ferry writes its load log itself, and never through a link",
    };
  }

  /** Append one JSON line to the load log (best effort durability; never holds secrets). */
  async appendLog(entry: Record<string, unknown>): Promise<void> {
    await appendToOwnFile(
      this.logFile,
      `${JSON.stringify(entry)}\n`,
      STORE_MODES.file,
      this.logRules(),
    );
  }

  /** The load log's text ("" when nothing was logged yet). */
  async readLog(): Promise<string> {
    try {
      return (await readRegularFile(this.logFile, this.logRules())).toString("utf8");
    } catch (error) {
      if (isFerryError(error) && error.code === "ENOTFOUND") return "";
      throw error;
    }
  }
}
