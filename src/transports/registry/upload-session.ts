/**
 * An upload session on a registry (`POST /v2/<name>/blobs/uploads/`): its URL, how much the
 * registry says it has, and how it ends (`PUT ?digest=`, or `DELETE`).
 */

import { pushScope } from "./auth.js";
import type { RegistryClient } from "./client.js";
import { describeErrors, errorCodes, type RegistryErrorBody } from "./error-body.js";
import { RegistryError } from "./errors.js";
import { discardBody, type HttpResponse, headerValue } from "./http.js";
import { resolveLocation } from "./location.js";
import { withRetries } from "./retry.js";
import type { UploadRequest } from "./upload.js";

/** The upload URL a response names (`Location`, relative to the request). */
function uploadLocationOf(response: HttpResponse, what: string): URL {
  const location = headerValue(response.headers, "location");
  if (!location) {
    throw new RegistryError("EREGISTRY", `${what}: the registry named no upload location`, {
      transient: true,
    });
  }
  return resolveLocation(location, response.url, what);
}

/** `Range: 0-N` (some registries write `bytes=0-N`): the number of bytes the registry has. */
export function parseUploadRange(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(?:bytes=)?0-(\d+)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) + 1;
}

/** The upload URL with `?digest=`: a PUT there completes the upload. */
export function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  return url;
}

/** The registry refused the digest of an upload: the bytes it got are not the ones verified. */
export function digestRefused(
  request: Pick<UploadRequest, "client" | "repository" | "descriptor" | "what">,
  body: RegistryErrorBody | undefined,
): RegistryError {
  return new RegistryError(
    "EINTEGRITY",
    `${request.what}: ${request.client.registry}/${request.repository} refused the upload: ${describeErrors(body)}`,
    {
      status: 400,
      hint: "ferry verified these bytes against the digest; the registry (or something between) saw other bytes: try again, and check any proxy in between",
      details: { digest: request.descriptor.digest, codes: errorCodes(body) },
    },
  );
}

/** `DELETE` an upload session (best effort: the registry purges stale ones anyway). */
export async function cancelUpload(
  client: RegistryClient,
  repository: string,
  location: URL,
  what: string,
): Promise<void> {
  try {
    const response = await client.send({
      method: "DELETE",
      path: location.href,
      scopes: [pushScope(repository)],
      what: `cancelling the upload of ${what}`,
      acceptStatus: [400, 404, 405],
    });
    await discardBody(response);
  } catch {
    // the session is left for the registry's upload purging
  }
}

/** `POST /v2/<name>/blobs/uploads/` once: a new upload session's URL. */
export async function startUploadOnce(
  client: RegistryClient,
  repository: string,
  what: string,
  signal?: AbortSignal,
): Promise<URL> {
  const response = await client.send({
    method: "POST",
    path: `/v2/${repository}/blobs/uploads/`,
    headers: { "Content-Length": "0" },
    scopes: [pushScope(repository)],
    what: `starting the upload of ${what}`,
    ...(signal ? { signal } : {}),
  });
  await discardBody(response);
  return uploadLocationOf(response, what);
}

/** `POST /v2/<name>/blobs/uploads/`: a new upload session's URL (retried). */
export async function startUpload(
  client: RegistryClient,
  repository: string,
  what: string,
  signal?: AbortSignal,
): Promise<URL> {
  return withRetries(
    client.retryPolicy,
    () => startUploadOnce(client, repository, what, signal),
    signal ? { signal } : {},
  );
}
