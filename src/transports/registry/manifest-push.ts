import type { Descriptor } from "../../types/descriptor.js";
import { pushScope } from "./auth.js";
import type { RegistryClient } from "./client.js";
import { describeErrors, errorCodes, readErrorBody } from "./error-body.js";
import { RegistryError } from "./errors.js";
import { discardBody, headerValue } from "./http.js";
import { withRetries } from "./retry.js";

/** True when a manifest names layers with `urls` (foreign layers). */
function namesUrls(bytes: Buffer): boolean {
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as { layers?: Array<{ urls?: unknown }> };
    return (parsed.layers ?? []).some((l) => Array.isArray(l.urls) && l.urls.length > 0);
  } catch {
    return false;
  }
}

const FOREIGN_URLS_HINT =
  "the manifest names foreign-layer URLs, which registries refuse unless allowed: push with --strip-foreign-urls, or allow them in the registry (distribution: validation.manifests.urls.allow)";

/**
 * PUT a manifest by tag or digest. Resolves with the digest the registry computed
 * (Docker-Content-Digest), when it sends one.
 */
export async function putManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  descriptor: Pick<Descriptor, "mediaType" | "digest">,
  bytes: Buffer,
  what: string,
): Promise<string | undefined> {
  const foreign = namesUrls(bytes);
  return withRetries(client.retryPolicy, async () => {
    const response = await client.send({
      method: "PUT",
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { "Content-Type": descriptor.mediaType, "Content-Length": String(bytes.length) },
      body: bytes,
      scopes: [pushScope(repository)],
      what,
      acceptStatus: [400, 500],
    });
    if (response.status === 400 || response.status === 500) {
      const body = await readErrorBody(response);
      // distribution answers a refused foreign-layer URL with 500 UNKNOWN: no use retrying.
      const refusedUrls = foreign && errorCodes(body).includes("UNKNOWN");
      throw new RegistryError(
        "EREGISTRY",
        `${what}: ${client.registry} refused the manifest (HTTP ${response.status}): ${describeErrors(body)}`,
        {
          status: response.status,
          transient: response.status === 500 && !refusedUrls,
          hint: foreign
            ? FOREIGN_URLS_HINT
            : "the registry may lack a blob or a child manifest it names, or not accept this media type",
          details: { codes: errorCodes(body) },
        },
      );
    }
    await discardBody(response);
    return headerValue(response.headers, "docker-content-digest")?.trim();
  });
}
