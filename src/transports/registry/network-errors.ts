import { RegistryError } from "./errors.js";
import { type ProxyRoute, proxySocketError } from "./proxy-tunnel.js";
import { displayUrl } from "./redact.js";

/**
 * Socket, TLS and timing failures of a registry request as RegistryErrors: what went wrong,
 * at which host (and through which proxy), whether trying again may help, and what to do.
 */

const TRUST_ERRORS = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Errors that say "this port does not speak TLS" (an http:// registry answered). */
const PROTOCOL_MISMATCH = new Set([
  "EPROTO",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
]);

/** Whether a failed https attempt means the server speaks plain http on that port. */
export function isProtocolMismatch(error: unknown): boolean {
  const code = (error as { details?: { systemCode?: string } }).details?.systemCode;
  return code !== undefined && PROTOCOL_MISMATCH.has(code);
}

/** Where docker's per-registry CA file for a host goes on this system (for hints). */
function certsDirExample(host: string): string {
  return process.platform === "win32"
    ? `%ProgramData%\\docker\\certs.d\\${host.replace(/:/g, "")}\\ca.crt`
    : `/etc/docker/certs.d/${host}/ca.crt`;
}

/** The connection errors that happen before the proxy answers anything. */
const PROXY_CONNECT_ERRORS = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"]);

/**
 * Translate a socket or TLS error into a RegistryError naming the host (and the proxy, when
 * the request went through one: `route`).
 */
export function networkError(error: unknown, url: URL, route?: ProxyRoute): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  if (route && PROXY_CONNECT_ERRORS.has(code)) return proxySocketError(error, route, url.host);
  const detail = error instanceof Error ? error.message : String(error);
  const at = where(url, route);
  if (TRUST_ERRORS.has(code)) {
    return new RegistryError("ETRUST", `${url.host}: TLS certificate not trusted (${code})`, {
      hint: `give its CA with --ca-cert FILE or put it in ${certsDirExample(url.host)}; --insecure-registry ${url.host} skips the check${route ? `; a proxy that re-signs TLS (${route.label}) needs its own CA trusted the same way, or in NODE_EXTRA_CA_CERTS` : ""}`,
      details: { host: url.host, systemCode: code },
      cause: error,
    });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new RegistryError("ENETWORK", `${url.host}: host name not found (${code})`, {
      hint: "check the registry name and this machine's DNS",
      transient: code === "EAI_AGAIN",
      details: { host: url.host, systemCode: code },
      cause: error,
    });
  }
  if (code === "ABORT_ERR") {
    return new RegistryError("ENETWORK", `${at}: cancelled`, { cause: error });
  }
  if (code === "ECONNREFUSED" && !route) {
    return new RegistryError("ENETWORK", `${at}: connection refused to ${url.host}`, {
      hint: `nothing answers at ${url.host}: check the host and port, and that the registry is running`,
      transient: true,
      details: { host: url.host, systemCode: code },
      cause: error,
    });
  }
  return new RegistryError("ENETWORK", `${at}: ${describeCode(code, detail)}`, {
    transient: !PROTOCOL_MISMATCH.has(code),
    details: { host: url.host, ...(code ? { systemCode: code } : {}) },
    cause: error,
  });
}

function describeCode(code: string, detail: string): string {
  switch (code) {
    case "ECONNRESET":
      return "connection reset";
    case "ECONNREFUSED":
      return "connection refused";
    case "ETIMEDOUT":
      return "connection timed out";
    case "EPIPE":
      return "connection closed while sending";
    case "ESTALL":
      return detail;
    default:
      return code ? `${detail} (${code})` : detail;
  }
}

/** A URL as messages name it, with the proxy the request went through. */
function where(url: URL, route: ProxyRoute | undefined): string {
  return route ? `${displayUrl(url)} (via the proxy ${route.label})` : displayUrl(url);
}

export function deadlineError(url: URL, ms: number, route?: ProxyRoute): RegistryError {
  return new RegistryError(
    "ENETWORK",
    `${where(url, route)}: no complete answer within ${Math.round(ms / 1000)} s`,
    {
      transient: true,
      hint: "the server answers too slowly: run the same command again later, or raise --timeout if the link is this slow",
      details: { host: url.host },
    },
  );
}

export function stallError(url: URL, ms: number, route?: ProxyRoute): RegistryError {
  return new RegistryError(
    "ENETWORK",
    `${where(url, route)}: stalled (no data for ${Math.round(ms / 1000)} s)`,
    { transient: true, details: { host: url.host } },
  );
}
