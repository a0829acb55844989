import type { Readable } from "node:stream";
import type { Descriptor } from "../../types/descriptor.js";
import type { BlobWriter, ImageRecord, Sink, Source } from "../../types/transport.js";

/** A source that wants to hear which of its blobs the copy engine verified. */
export interface VerdictListener {
  blobVerified(descriptor: Descriptor): void;
}

function listensForVerdicts(source: Source): source is Source & VerdictListener {
  return typeof (source as Partial<VerdictListener>).blobVerified === "function";
}

/**
 * The sink as the engine sees it, telling `onVerified` of every blob the engine verified (sha256
 * and exact size of the bytes it passed on), so a registry source can publish the download it
 * read into the cache. The verdict is taken from the engine's own protocol, never from the sink:
 * the pump calls a writer's `finish` only after the bytes matched (`digest/verified-pump.ts`),
 * and a `VerifyingStream` emits `end` only after its final check passed. A sink that fails
 * afterwards (a full disk) does not undo the verdict on the bytes.
 */
export function withVerdicts(sink: Sink, onVerified: (descriptor: Descriptor) => void): Sink {
  const wrapped: Sink = {
    label: sink.label,
    maxConcurrentBlobs: sink.maxConcurrentBlobs,
    hasBlob: (descriptor) => sink.hasBlob(descriptor),
    putBlob: async (descriptor: Descriptor, stream: Readable) => {
      let ended = false;
      stream.once("end", () => {
        ended = true;
      });
      await sink.putBlob(descriptor, stream);
      if (ended) onVerified(descriptor);
    },
    putManifest: (descriptor, bytes) => sink.putManifest(descriptor, bytes),
    addImage: (record: ImageRecord) => sink.addImage(record),
    commit: () => sink.commit(),
    abort: () => sink.abort(),
  };
  if (sink.blobWriter) {
    const open = sink.blobWriter.bind(sink);
    wrapped.blobWriter = async (descriptor: Descriptor): Promise<BlobWriter> => {
      const writer = await open(descriptor);
      return {
        ...(writer.location ? { location: writer.location } : {}),
        write: (buffer, length) => writer.write(buffer, length),
        finish: () => {
          onVerified(descriptor);
          return writer.finish();
        },
        discard: () => writer.discard(),
      };
    };
  }
  return wrapped;
}

/** `withVerdicts` for the sources among `sources` that listen (the sink itself when none do). */
export function reportVerdicts(sink: Sink, sources: Source[]): Sink {
  const listeners = [...new Set(sources)].filter(listensForVerdicts);
  if (listeners.length === 0) return sink;
  return withVerdicts(sink, (descriptor) => {
    for (const listener of listeners) listener.blobVerified(descriptor);
  });
}
