import type { Readable } from "node:stream";
import { FerryError } from "../../errors.js";
import { pushScope } from "./auth.js";
import { readErrorBody } from "./error-body.js";
import { isTransient } from "./errors.js";
import { discardBody } from "./http.js";
import { blobExists } from "./push-checks.js";
import { withRetries } from "./retry.js";
import type { UploadOutcome, UploadRequest } from "./upload.js";
import { cancelUpload, digestRefused, startUploadOnce, withDigest } from "./upload-session.js";

async function readAll(stream: Readable, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== size) throw new FerryError("EINTERNAL", "short blob stream");
  return bytes;
}

/** Small blobs: the verified bytes in memory, then POST + PUT, retried as a whole. */
export async function uploadWhole(request: UploadRequest): Promise<UploadOutcome> {
  const { client, repository, descriptor } = request;
  const bytes = await readAll(request.stream, descriptor.size);
  const outcome: UploadOutcome = { restarts: 0, resumes: 0, bytesSent: 0, chunks: 1 };
  let attempt = 0;
  await withRetries(
    client.retryPolicy,
    async () => {
      if (attempt++ > 0) outcome.restarts++;
      const location = await startUploadOnce(client, repository, request.what, request.signal);
      request.track?.(location);
      try {
        const response = await client.send({
          method: "PUT",
          path: withDigest(location, descriptor.digest).href,
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Length": String(bytes.length),
          },
          body: bytes,
          scopes: [pushScope(repository)],
          what: request.what,
          acceptStatus: [400],
          ...(request.signal ? { signal: request.signal } : {}),
        });
        outcome.bytesSent += bytes.length;
        if (response.status === 400) throw digestRefused(request, await readErrorBody(response));
        await discardBody(response);
      } catch (error) {
        if (
          isTransient(error) &&
          (await blobExists(client, repository, descriptor.digest, request.what).catch(() => false))
        ) {
          return; // the PUT went through; only its answer was lost
        }
        await cancelUpload(client, repository, location, request.what);
        throw error;
      } finally {
        request.track?.(undefined);
      }
    },
    {
      ...(request.signal ? { signal: request.signal } : {}),
      onRetry: ({ error, delayMs }) =>
        request.onNote?.(`${error.message}; retrying in ${(delayMs / 1000).toFixed(1)} s`),
    },
  );
  return outcome;
}
