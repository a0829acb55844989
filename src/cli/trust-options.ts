import { loadPublicKey, loadTrustDirectory, type TrustedKey } from "../trust/keys.js";

export interface TrustFlags {
  trust?: string[];
  trustDir?: string;
}

/**
 * The keys a bundle must be signed by: every `--trust KEY.pub`, every `*.pub` in
 * `--trust-dir` (or `$FERRY_TRUST_DIR`). None configured: signatures are not required.
 */
export async function trustedKeys(flags: TrustFlags, env = process.env): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const file of flags.trust ?? []) keys.push(await loadPublicKey(file));
  const dir = flags.trustDir ?? env.FERRY_TRUST_DIR;
  if (dir) keys.push(...(await loadTrustDirectory(dir)));
  return keys;
}
