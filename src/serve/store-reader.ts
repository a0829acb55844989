/**
 * What `ferry serve` reads from the store, and how: every file through the store's own rules
 * (util/safe-open.ts: no symbolic link followed, nothing but a regular file read), manifests
 * read once into memory and checked against their digest before a byte of them is used or
 * served. Nothing here writes, and nothing takes the store's lock: a load commits by renaming
 * index.json over the old one, so one read of index.json is one consistent view, and blobs are
 * immutable once linked.
 */

import type { FileHandle } from "node:fs/promises";
import { sha256Digest } from "../digest/sha256.js";
import { FerryError, isFerryError } from "../errors.js";
import { blobPath } from "../transports/layout/index-file.js";
import type { Store } from "../transports/layout/store.js";
import type { Digest } from "../types/digest.js";
import { openRegularFile } from "../util/safe-open.js";

/** index.json is read whole for each request; the store's own reader allows as much. */
const INDEX_MAX_BYTES = 64 * 1024 * 1024;
/** The largest manifest served (the store's reader allows the same). */
export const MANIFEST_MAX_BYTES = 16 * 1024 * 1024;

/** A blob opened for reading: the handle is the caller's to close. */
export interface OpenedBlob {
  handle: FileHandle;
  size: number;
}

/** A store file whose bytes are not what its name says: never served. */
export class DamagedStoreError extends FerryError {
  constructor(message: string, digest: Digest) {
    super("EINTEGRITY", message, {
      hint: "run `ferry check` on the store, then load the bundle of the image that needs it again",
      details: { digest },
    });
  }
}

export class StoreReader {
  constructor(readonly store: Store) {}

  /** The bytes of index.json, read once. */
  async indexBytes(): Promise<Buffer> {
    const bytes = await this.store.files.readFile("index.json", INDEX_MAX_BYTES);
    if (bytes === undefined) {
      throw new FerryError("EBADSTORE", `${this.store.indexFile} is missing`, {
        hint: "serve a store that ferry load wrote (check --store / FERRY_STORE)",
      });
    }
    return bytes;
  }

  /**
   * A manifest's bytes, checked against its digest (and `size` when known), or undefined when
   * the store does not hold it. Damaged bytes are a DamagedStoreError, never returned.
   */
  async manifestBytes(digest: Digest, size?: number): Promise<Buffer | undefined> {
    const bytes = await this.store.files.readFile(blobPath(digest), MANIFEST_MAX_BYTES);
    if (bytes === undefined) return undefined;
    if (size !== undefined && bytes.length !== size) {
      throw new DamagedStoreError(
        `manifest ${digest} in ${this.store.dir} is ${bytes.length} bytes, its descriptor says ${size}`,
        digest,
      );
    }
    const found = sha256Digest(bytes);
    if (found !== digest) {
      throw new DamagedStoreError(
        `manifest ${digest} in ${this.store.dir} is damaged (its sha256 is ${found})`,
        digest,
      );
    }
    return bytes;
  }

  /** A blob opened for reading, or undefined when the store does not hold it. */
  async openBlob(digest: Digest): Promise<OpenedBlob | undefined> {
    const relative = blobPath(digest);
    try {
      const { handle, info } = await openRegularFile(
        this.store.blobFile(digest),
        this.store.rulesFor(relative),
      );
      return { handle, size: info.size };
    } catch (error) {
      if (isFerryError(error) && error.code === "ENOTFOUND") return undefined;
      throw error;
    }
  }
}
