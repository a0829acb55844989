/**
 * A sink that writes an OCI image layout as a tar into a stream, blob by blob as the copy
 * delivers them (`blobs/sha256/<hex>`), then, at commit, the files that name the images: what
 * the format adds (docker's `manifest.json` and `repositories`) and `oci-layout` and
 * `index.json` last. The stream is a file (`docker-archive:FILE`), a Docker engine's
 * `POST /images/load` or `ctr images import -`: whoever reads it acts on those last files, so it
 * sees a loadable image only once every blob before them was verified; an abort cuts the stream
 * before they are written.
 */

import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tarStream from "tar-stream";
import { FerryError } from "../../errors.js";
import {
  CONTAINERD_NAME_ANNOTATION,
  type Descriptor,
  REF_NAME_ANNOTATION,
} from "../../types/descriptor.js";
import { MediaType } from "../../types/media-types.js";
import { parseReference } from "../../types/reference.js";
import type { ImageRecord, Sink } from "../../types/transport.js";
import { blobPath, OCI_LAYOUT_FILE } from "../layout/index-file.js";

const FIXED_MTIME = new Date("2000-01-01T00:00:00Z");

/** Where the tar goes, and what ending it means there. */
export interface TarOutput {
  /** The stream the tar is written into. */
  readonly stream: Writable;
  /** After the whole tar was written: keep it (rename a temp file, wait for a loader's answer). */
  complete(): Promise<void>;
  /** Drop it: delete a temp file, cut a loader off before it saw the image list. */
  discard(): Promise<void>;
  /** A failure while writing, as the error to report (a file's disk full, a loader's answer). */
  explain(error: unknown): Promise<unknown>;
}

/** What the images and their manifests are, for the files a format adds. */
export interface WrittenImages {
  records: readonly ImageRecord[];
  /** The bytes of a manifest or index written into the tar. */
  manifest(digest: string): Buffer;
}

export interface LayoutTarOptions {
  /** Files the format adds before `oci-layout` and `index.json` (docker's manifest.json). */
  extraFiles?(images: WrittenImages): Array<[string, Buffer]>;
}

/** `index.json`: each image's root, named for containerd (full name) and by its tag. */
export function layoutIndex(records: readonly ImageRecord[]): Buffer {
  const manifests = records.map((record) => {
    const ref = parseReference(record.name, { defaultTag: false });
    return {
      mediaType: record.descriptor.mediaType,
      digest: record.descriptor.digest,
      size: record.descriptor.size,
      annotations: {
        [CONTAINERD_NAME_ANNOTATION]: record.name,
        ...(ref.tag ? { [REF_NAME_ANNOTATION]: ref.tag } : {}),
      },
    };
  });
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }),
  );
}

export class LayoutTarSink implements Sink {
  readonly maxConcurrentBlobs = 1;
  private readonly pack = tarStream.pack();
  private readonly done: Promise<void>;
  private readonly written = new Set<string>();
  private readonly manifests = new Map<string, Buffer>();
  private readonly records: ImageRecord[] = [];
  private state: "open" | "committed" | "aborted" = "open";

  constructor(
    readonly label: string,
    private readonly output: TarOutput,
    private readonly options: LayoutTarOptions = {},
  ) {
    this.done = pipeline(this.pack, output.stream);
    this.done.catch(() => {});
  }

  private async addEntry(name: string, size: number, content: Buffer | Readable): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const header = { name, size, mode: 0o644, mtime: FIXED_MTIME, type: "file" as const };
      // The output failing (a loader that hung up, a full disk) ends the pack: say so here too.
      void this.done.catch(reject);
      if (Buffer.isBuffer(content)) {
        this.pack.entry(header, content, (error) => (error ? reject(error) : resolve()));
        return;
      }
      const entry = this.pack.entry(header, (error) => (error ? reject(error) : resolve()));
      // A blob that fails its check (the engine's verifying stream errors) destroys the entry,
      // which then emits the same error: it is this promise's rejection, never an uncaught one.
      entry.on("error", reject);
      content.on("error", (error) => {
        reject(error);
        entry.destroy(error);
      });
      content.pipe(entry);
    });
  }

  private async guarded(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      throw await this.output.explain(error);
    }
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.written.has(descriptor.digest);
  }

  async putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    await this.guarded(() => this.addEntry(blobPath(descriptor.digest), descriptor.size, stream));
    this.written.add(descriptor.digest);
  }

  async putManifest(descriptor: Descriptor, bytes: Buffer): Promise<void> {
    await this.guarded(() => this.addEntry(blobPath(descriptor.digest), bytes.length, bytes));
    this.written.add(descriptor.digest);
    this.manifests.set(descriptor.digest, bytes);
  }

  addImage(record: ImageRecord): void {
    this.records.push(record);
  }

  private manifestBytes(digest: string): Buffer {
    const bytes = this.manifests.get(digest);
    if (!bytes) throw new FerryError("EINTERNAL", `manifest ${digest} was not written`);
    return bytes;
  }

  async commit(): Promise<void> {
    try {
      const images = { records: this.records, manifest: (d: string) => this.manifestBytes(d) };
      const files: Array<[string, Buffer]> = [
        ...(this.options.extraFiles?.(images) ?? []),
        ["oci-layout", Buffer.from(OCI_LAYOUT_FILE)],
        ["index.json", layoutIndex(this.records)],
      ];
      await this.guarded(async () => {
        for (const [name, bytes] of files) await this.addEntry(name, bytes.length, bytes);
        this.pack.finalize();
        await this.done;
      });
      await this.output.complete();
      this.state = "committed";
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "aborted";
    this.pack.destroy();
    await this.output.discard();
  }
}
