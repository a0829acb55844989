import { pushScope, repositoryScope } from "./auth.js";
import type { RegistryClient } from "./client.js";
import { RegistryError } from "./errors.js";
import { discardBody, type HttpResponse, headerValue } from "./http.js";
import { resolveLocation } from "./location.js";
import { withRetries } from "./retry.js";
import { cancelUpload } from "./upload-session.js";

/**
 * Mount a blob from another repository of the same registry
 * (`POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`). True when mounted (201); a
 * registry that cannot mount (no such blob there, or no pull right on `from`) opens an upload
 * session instead (202), which is cancelled here, and the answer is false.
 */
export async function mountBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  from: string,
  what: string,
): Promise<boolean> {
  const query = new URLSearchParams({ mount: digest, from });
  return withRetries(client.retryPolicy, async () => {
    let response: HttpResponse;
    try {
      response = await client.send({
        method: "POST",
        path: `/v2/${repository}/blobs/uploads/?${query.toString()}`,
        headers: { "Content-Length": "0" },
        scopes: [pushScope(repository), repositoryScope(from, "pull")],
        what: `mounting ${what} from ${from}`,
      });
    } catch (error) {
      // No right to read `from` (or it is gone): not a reason to fail, just upload.
      if (error instanceof RegistryError && [401, 403, 404].includes(error.status ?? 0)) {
        return false;
      }
      throw error;
    }
    await discardBody(response);
    if (response.status === 201) return true;
    const location = headerValue(response.headers, "location");
    if (location)
      await cancelUpload(client, repository, resolveLocation(location, response.url, what), what);
    return false;
  });
}
