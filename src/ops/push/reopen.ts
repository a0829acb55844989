/**
 * The push's second read of a blob: a registry upload that must start over (a cut PATCH the
 * registry lost) reads the blob again from its source, verified again on the way.
 */

import type { Readable } from "node:stream";
import { VerifyingStream } from "../../digest/verifying-stream.js";
import { NotFoundError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { Source } from "../../types/transport.js";
import type { PushItem } from "./report.js";

/** A fresh stream of a blob from its source, checked like the engine checks the first one. */
export function reopener(items: PushItem[]): (descriptor: Descriptor) => Promise<Readable> {
  const sources = new Map<string, Source>();
  for (const { plan } of items) {
    for (const blob of plan.blobs) {
      if (!sources.has(blob.descriptor.digest)) sources.set(blob.descriptor.digest, plan.source);
    }
  }
  return async (descriptor) => {
    const source = sources.get(descriptor.digest);
    if (!source) throw new NotFoundError(`blob ${descriptor.digest}: no source to read it again`);
    const input = await source.openBlob(descriptor);
    const verifier = new VerifyingStream(descriptor, `blob ${descriptor.digest} (read again)`);
    input.on("error", (error) => verifier.destroy(error));
    // Its verdict reaches the uploader through its reads; an early one must not crash.
    verifier.on("error", () => {});
    input.pipe(verifier);
    return verifier;
  };
}
