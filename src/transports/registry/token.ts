import type http from "node:http";
import type { Credential } from "./credentials.js";
import { encodeBasicAuth } from "./docker-config.js";
import { RegistryError } from "./errors.js";
import { headerValue, readBody, sendHttp } from "./http.js";
import { displayUrl } from "./redact.js";
import { isRetryableStatus, parseRetryAfter } from "./retry.js";

/** A bearer token and when to stop using it. */
export interface BearerToken {
  value: string;
  /** ms since the epoch. */
  expiresAt: number;
}

export interface TokenRequest {
  /** The realm, checked by `vetRealm` (scheme, host) before it gets here. */
  realm: URL;
  service?: string;
  scopes: string[];
  credential?: Credential;
  /** The registry the token is for (messages). */
  registry: string;
  agent?: http.Agent;
  stallTimeoutMs: number;
  /** The whole exchange (head and body) must be over within this long. */
  deadlineMs?: number;
  userAgent: string;
}

const DEFAULT_LIFETIME_S = 60;
const MAX_TOKEN_RESPONSE = 1024 * 1024;

/** What a token may hold: one line of visible ASCII (it goes into an Authorization header). */
const TOKEN_TEXT = /^[\x21-\x7e]+$/;

/**
 * Get a bearer token from a token realm (the Docker token protocol): an OAuth2 refresh-token
 * POST when the credential is an identity token, else a GET with Basic credentials (or none,
 * for anonymous pulls). Transient failures throw transient errors for the caller's retry loop.
 */
export async function requestToken(request: TokenRequest): Promise<BearerToken> {
  const url = new URL(request.realm);
  const headers: Record<string, string> = { "User-Agent": request.userAgent };
  const credential = request.credential;
  let body: string | undefined;
  let method: "GET" | "POST" = "GET";
  if (credential?.identityToken) {
    method = "POST";
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: credential.identityToken,
      client_id: "ferry",
      ...(request.service ? { service: request.service } : {}),
      ...(request.scopes.length ? { scope: request.scopes.join(" ") } : {}),
    });
    body = form.toString();
    headers["Content-Type"] = "application/x-www-form-urlencoded";
  } else {
    if (request.service) url.searchParams.set("service", request.service);
    for (const scope of request.scopes) url.searchParams.append("scope", scope);
    if (credential?.username !== undefined && credential.password !== undefined) {
      headers.Authorization = `Basic ${encodeBasicAuth(credential.username, credential.password)}`;
    }
  }
  const response = await sendHttp(url, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(request.agent ? { agent: request.agent } : {}),
    stallTimeoutMs: request.stallTimeoutMs,
    ...(request.deadlineMs === undefined
      ? {}
      : { deadlineMs: request.deadlineMs, deadlineCoversBody: true }),
  });
  const bytes = await readBody(response, MAX_TOKEN_RESPONSE);
  const where = `token service ${displayUrl(url)} of ${request.registry}`;
  if (response.status === 401 || response.status === 403) {
    throw new RegistryError(
      "EUNAUTHORIZED",
      credential
        ? `${where} refused the credentials from ${credential.origin}${credential.username ? ` for user ${credential.username}` : ""}`
        : `${where} refused an anonymous token`,
      {
        hint: credential
          ? `log in again with ferry login ${request.registry}, or pass other --creds`
          : `log in with ferry login ${request.registry}, or pass --creds USER:PASSWORD`,
        status: response.status,
      },
    );
  }
  if (response.status !== 200) {
    const retryAfterMs = parseRetryAfter(headerValue(response.headers, "retry-after"));
    throw new RegistryError("EREGISTRY", `${where} answered HTTP ${response.status}`, {
      transient: isRetryableStatus(response.status),
      status: response.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new RegistryError("EREGISTRY", `${where} answered something that is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new RegistryError("EREGISTRY", `${where} answered JSON that is not an object`);
  }
  const value =
    typeof parsed.token === "string" && parsed.token ? parsed.token : parsed.access_token;
  if (typeof value !== "string" || !value) {
    throw new RegistryError("EREGISTRY", `${where} answered without a token`);
  }
  if (!TOKEN_TEXT.test(value)) {
    throw new RegistryError(
      "EREGISTRY",
      `${where} answered a token that is not one line of visible text (it would not fit in a header)`,
      { hint: "the token service is broken or hostile: tell the registry's owner" },
    );
  }
  const lifetime =
    typeof parsed.expires_in === "number" && parsed.expires_in > 0
      ? parsed.expires_in
      : DEFAULT_LIFETIME_S;
  // Lifetimes count from now, on this machine's clock: a skewed server clock cannot
  // make a token look expired (or valid) for the wrong time.
  return { value, expiresAt: Date.now() + lifetime * 1000 };
}
