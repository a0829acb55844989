import type { Credential } from "./credentials.js";
import { isLoopbackHost } from "./endpoint.js";
import { RegistryError } from "./errors.js";
import { displayUrl } from "./redact.js";

/** What decides where a registry may send ferry for tokens. */
export interface RealmPolicy {
  /** The registry as credentials are keyed: `docker.io`, `host:5000`. */
  registry: string;
  /** The host:port ferry talks to for it (`registry-1.docker.io` for docker.io). */
  registryHost: string;
  /** Whether the user named this host (`host` or `host:port`) with --insecure-registry. */
  isInsecure: (host: string) => boolean;
}

function hostnameOf(host: string): string {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return host.toLowerCase();
  }
}

/**
 * The token realm a registry named (its `WWW-Authenticate` challenge), parsed with the URL
 * parser (so `HTTP://`, `Http://` or a leading space are read as the http they are), and
 * checked before anything is sent there:
 *
 * - https, or http only to a loopback realm, or when the user named the registry (or the realm's
 *   host) with --insecure-registry: a network attacker must not be able to read or forge what
 *   goes to and comes from the token service;
 * - credentials (a password or a refresh token) go over http only to the registry's own host
 *   name, or to a realm host the user named insecure: a registry cannot send them in clear text
 *   to another machine.
 *
 * Throws a RegistryError (EREGISTRY for a realm that is no http(s) URL, ETRUST for a refusal).
 */
export function vetRealm(
  realm: string | undefined,
  credential: Credential | undefined,
  policy: RealmPolicy,
): URL {
  const { registry } = policy;
  let url: URL;
  try {
    url = new URL(realm ?? "");
  } catch {
    throw new RegistryError("EREGISTRY", `${registry} named an invalid token realm`, {
      hint: "the registry's WWW-Authenticate header is malformed: tell the registry's owner",
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RegistryError(
      "EREGISTRY",
      `${registry} named a token realm that is not an http(s) URL (${url.protocol})`,
      { hint: "the registry's WWW-Authenticate header is malformed: tell the registry's owner" },
    );
  }
  if (url.protocol === "https:") return url;
  const realmDeclared = policy.isInsecure(url.host);
  if (!isLoopbackHost(url.host) && !realmDeclared && !policy.isInsecure(registry)) {
    throw new RegistryError(
      "ETRUST",
      `${registry} sends ferry to a token service over plain http (${displayUrl(url)}): refused`,
      {
        hint: `if that is really wanted (a lab registry), name it with --insecure-registry ${registry}`,
        details: { host: url.host },
      },
    );
  }
  const secret = credential?.password !== undefined || credential?.identityToken !== undefined;
  if (secret && !realmDeclared && url.hostname.toLowerCase() !== hostnameOf(policy.registryHost)) {
    throw new RegistryError(
      "ETRUST",
      `${registry} asks for credentials at ${displayUrl(url)}, another host over plain http: not sent`,
      {
        hint: `if that token service is really yours, name it with --insecure-registry ${url.host}`,
        details: { host: url.host },
      },
    );
  }
  return url;
}
