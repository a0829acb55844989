import tls from "node:tls";

/**
 * The CA list for a TLS connection that trusts, in addition to `extra`, everything Node trusts
 * by default; undefined when there is nothing extra (Node's default store is used as it is).
 *
 * Node's `ca` option replaces the default store, so the defaults are spelled out: on Node
 * versions that can list them (`tls.getCACertificates("default")`, which includes
 * NODE_EXTRA_CA_CERTS and, with --use-system-ca, the system's store) that list, else the bundled
 * roots (`tls.rootCertificates`). The bundled roots lack NODE_EXTRA_CA_CERTS: the caller puts
 * that file's certificates into `extra` (see `readNodeExtraCaCertificates`).
 */
export function trustedCas(extra: string[] | undefined): string[] | undefined {
  if (!extra?.length) return undefined;
  const listDefaults = (tls as unknown as { getCACertificates?: (type: "default") => string[] })
    .getCACertificates;
  const defaults =
    typeof listDefaults === "function" ? listDefaults("default") : tls.rootCertificates;
  return [...defaults, ...extra];
}
