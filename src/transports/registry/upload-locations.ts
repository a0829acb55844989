/**
 * What ferry learned about where blobs live in one registry: for each digest, a repository
 * that had it when ferry last pushed or checked. A later push to another repository of the
 * same registry mounts the blob from there instead of uploading it again. Only a hint: a
 * failed mount just means an upload, so the file may be stale, lost, or shared by processes
 * (the last writer merges what it read).
 */

import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../../util/atomic-file.js";

/** Entries kept per registry (the oldest are dropped first). */
const MAX_ENTRIES = 200_000;

interface LocationsFile {
  schema: "ferry.blob-locations/v1";
  registry: string;
  /** digest -> repository, oldest first. */
  blobs: Record<string, string>;
}

/** The file for a registry inside ferry's cache folder. */
export function blobLocationsFile(cacheDir: string, registry: string): string {
  return path.join(cacheDir, "push", `${registry.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
}

async function readLocations(file: string, registry: string): Promise<Map<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<LocationsFile>;
    if (parsed.registry !== registry || typeof parsed.blobs !== "object" || !parsed.blobs) {
      return new Map();
    }
    return new Map(
      Object.entries(parsed.blobs).filter(
        (e): e is [string, string] =>
          /^sha256:[0-9a-f]{64}$/.test(e[0]) && typeof e[1] === "string",
      ),
    );
  } catch {
    return new Map();
  }
}

export class BlobLocations {
  private readonly changed = new Map<string, string | undefined>();

  private constructor(
    readonly registry: string,
    private readonly file: string | undefined,
    private readonly known: Map<string, string>,
  ) {}

  /** Read the hints for a registry (none, without a file). */
  static async open(registry: string, file: string | undefined): Promise<BlobLocations> {
    return new BlobLocations(
      registry,
      file,
      file ? await readLocations(file, registry) : new Map(),
    );
  }

  /** A repository that had the blob, when known. */
  get(digest: string): string | undefined {
    return this.known.get(digest);
  }

  set(digest: string, repository: string): void {
    this.known.delete(digest);
    this.known.set(digest, repository);
    this.changed.set(digest, repository);
  }

  /** Forget a hint that proved wrong. */
  forget(digest: string, repository: string): void {
    if (this.known.get(digest) !== repository) return;
    this.known.delete(digest);
    this.changed.set(digest, undefined);
  }

  /** Merge what changed into the file (best effort: a hint file that cannot be written is no error). */
  async save(): Promise<void> {
    if (!this.file || this.changed.size === 0) return;
    try {
      const merged = await readLocations(this.file, this.registry);
      for (const [digest, repository] of this.changed) {
        merged.delete(digest);
        if (repository !== undefined) merged.set(digest, repository);
      }
      const entries = [...merged].slice(-MAX_ENTRIES);
      const content: LocationsFile = {
        schema: "ferry.blob-locations/v1",
        registry: this.registry,
        blobs: Object.fromEntries(entries),
      };
      await writeFileAtomic(this.file, Buffer.from(`${JSON.stringify(content)}\n`));
      this.changed.clear();
    } catch {
      // a lost hint costs an upload, nothing more
    }
  }
}
