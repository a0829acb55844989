import { sha256Digest } from "../../digest/sha256.js";
import { pushScope } from "./auth.js";
import { MANIFEST_ACCEPT, type RegistryClient } from "./client.js";
import { headerValue } from "./http.js";

/** HEAD a blob in a repository: true when the registry has it there. */
export async function blobExists(
  client: RegistryClient,
  repository: string,
  digest: string,
  what: string,
): Promise<boolean> {
  const { response } = await client.fetchSmall(
    {
      method: "HEAD",
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: [pushScope(repository)],
      what,
      acceptStatus: [404],
    },
    64 * 1024,
  );
  return response.status !== 404;
}

/** HEAD a manifest (by tag or digest): its digest, or undefined when absent. */
export async function manifestDigest(
  client: RegistryClient,
  repository: string,
  reference: string,
  what: string,
): Promise<string | undefined> {
  const { response } = await client.fetchSmall(
    {
      method: "HEAD",
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [pushScope(repository)],
      what,
      acceptStatus: [404],
    },
    64 * 1024,
  );
  if (response.status === 404) return undefined;
  const header = headerValue(response.headers, "docker-content-digest")?.trim();
  if (header) return header;
  if (reference.startsWith("sha256:")) return reference;
  // No Docker-Content-Digest: the digest of the bytes themselves.
  return sha256Digest((await client.getManifest(repository, reference, what)).bytes);
}
