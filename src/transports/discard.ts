import type { Readable } from "node:stream";
import { sharedHashPool } from "../digest/hash-pool.js";
import type { Descriptor } from "../types/descriptor.js";
import type { BlobWriter, ImageRecord, Sink } from "../types/transport.js";

/** A sink that reads every byte and keeps none: the engine's verification is the point. */
export class DiscardSink implements Sink {
  readonly label = "verification";
  /** One blob per hash worker (one per core): verification is hashing and nothing else. */
  readonly maxConcurrentBlobs = Math.max(2, sharedHashPool().size);

  async hasBlob(_descriptor: Descriptor): Promise<boolean> {
    return false;
  }

  async putBlob(_descriptor: Descriptor, stream: Readable): Promise<void> {
    for await (const _chunk of stream) {
      // the verifying stream hashes as the bytes pass
    }
  }

  async blobWriter(_descriptor: Descriptor): Promise<BlobWriter> {
    return { write: async () => {}, finish: async () => {}, discard: async () => {} };
  }

  async putManifest(_descriptor: Descriptor, _bytes: Buffer): Promise<void> {}
  addImage(_record: ImageRecord): void {}
  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}
