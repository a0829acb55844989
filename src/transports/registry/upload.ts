/**
 * Blob uploads: one PUT for a small blob (`upload-whole.ts`), PATCH chunks that resume or
 * start over after a cut for a big one (`upload-chunked.ts`), on an upload session
 * (`upload-session.ts`). The rest of the push half of the registry client: existence checks
 * (`push-checks.ts`), cross-repository mounts (`mount.ts`), manifest pushes
 * (`manifest-push.ts`). Every request goes through `RegistryClient.send` (authentication,
 * TLS, redirects) and the same retry policy as downloads.
 *
 * Resuming: after a failed PATCH ferry asks the registry where the upload stands (`GET` on
 * the upload URL, which answers `Range: 0-<last byte>`) and goes on from there; a 416 on a
 * PATCH means the same. When the registry has lost the session (404: purged, restarted, or
 * `distribution`, which cancels an upload whose PATCH was cut mid-body) the blob starts over
 * in a new session. Bytes that were already read from the source are read again from a fresh,
 * verified stream (`reopen`); the engine's own stream is still read to its end, so its
 * verdict on the bytes still gates the final `PUT ?digest=`.
 */

import type { Readable } from "node:stream";
import type { Descriptor } from "../../types/descriptor.js";
import type { RegistryClient } from "./client.js";
import { ChunkedUpload } from "./upload-chunked.js";
import { uploadWhole } from "./upload-whole.js";

const MiB = 1024 * 1024;

/** How blobs are cut into requests. */
export interface UploadTuning {
  /** Blobs above `monolithicMax` go up in PATCH requests of this many bytes. */
  chunkSize: number;
  /** Blobs up to this size are read into memory and sent in one PUT (retried as a whole). */
  monolithicMax: number;
}

/**
 * 64 MiB chunks: `distribution` pays per PATCH (it reopens the upload and its hash state), so
 * fewer requests push faster; memory does not grow with the chunk (bodies are streamed).
 */
export const DEFAULT_UPLOAD_TUNING: UploadTuning = { chunkSize: 64 * MiB, monolithicMax: 8 * MiB };

/** One blob to upload. */
export interface UploadRequest {
  client: RegistryClient;
  repository: string;
  descriptor: Descriptor;
  /** The copy engine's verifying stream of the blob. */
  stream: Readable;
  /** A fresh, verified stream of the blob from byte 0 (for uploads that must read again). */
  reopen: () => Promise<Readable>;
  /** `blob sha256:... (layer 1/3 of ...)` for messages. */
  what: string;
  tuning: UploadTuning;
  signal?: AbortSignal;
  onNote?: (text: string) => void;
  /** Told about the live session (undefined when none), so an abort can cancel it. */
  track?: (location: URL | undefined) => void;
}

/** What an upload took. */
export interface UploadOutcome {
  /** Sessions started over from byte 0 after the registry lost one (or refused the digest). */
  restarts: number;
  /** Times the upload went on from where the registry said it stood. */
  resumes: number;
  /** Request body bytes sent (more than the blob's size after a cut). */
  bytesSent: number;
  chunks: number;
}

/** Upload one blob: one PUT when small, else PATCH chunks that resume; then `PUT ?digest=`. */
export async function uploadBlob(request: UploadRequest): Promise<UploadOutcome> {
  if (request.descriptor.size <= request.tuning.monolithicMax) return uploadWhole(request);
  return new ChunkedUpload(request).run();
}
