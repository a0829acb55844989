import { boundedList, truncateText } from "../../types/bounded-list.js";
import { escapeControls } from "../../types/terminal-text.js";
import type { Credential } from "./credentials.js";
import { errorCodes, type RegistryErrorBody } from "./error-body.js";
import { RegistryError } from "./errors.js";
import type { HttpResponse } from "./http.js";
import { headerValue } from "./http.js";
import { isRetryableStatus, parseRetryAfter } from "./retry.js";

/** The error for a non-2xx status, naming the thing, the registry, and what to do. */
export function statusError(
  registry: string,
  response: HttpResponse,
  what: string,
  body?: RegistryErrorBody,
): RegistryError {
  const status = response.status;
  // The registry's own words, on one line, control characters escaped, a few at most.
  const codes = errorCodes(body).map((c) => escapeControls(truncateText(c, 100)));
  const detail = codes.length ? ` (${boundedList(codes, { max: 5 })})` : "";
  if (status === 401) {
    return new RegistryError(
      "EUNAUTHORIZED",
      `${what}: ${registry} requires authentication, or the credentials do not allow this${detail}`,
      {
        hint: `log in with ferry login ${registry} (or pass --creds USER:PASSWORD); if you are logged in, check the name: registries answer 401 for repositories that do not exist`,
        status,
      },
    );
  }
  if (status === 403) {
    return new RegistryError("EDENIED", `${what}: ${registry} denied access${detail}`, {
      hint: "check that this account may pull the repository (and, for a push, push to it)",
      status,
    });
  }
  if (status === 404) {
    return new RegistryError("ENOTFOUND", `${what}: not found in ${registry}${detail}`, {
      hint: "check the repository name and tag (ferry tags REPO lists the tags)",
      status,
    });
  }
  const retryAfterMs = parseRetryAfter(headerValue(response.headers, "retry-after"));
  return new RegistryError(
    "EREGISTRY",
    `${what}: ${registry} answered HTTP ${status}${response.body.statusMessage ? ` ${escapeControls(truncateText(response.body.statusMessage, 100))}` : ""}${detail}`,
    {
      transient: isRetryableStatus(status),
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(status === 429
        ? {
            hint: "the registry is throttling: wait, log in (higher limits), or use fewer --jobs",
          }
        : {}),
    },
  );
}

/**
 * A 401 to a request that carried a user name and password (Basic): the registry rejected them.
 * Names the user and where the credentials came from; never the password.
 */
export function credentialsRejected(
  registry: string,
  credential: Credential | undefined,
  what: string,
): RegistryError {
  const user =
    credential?.username === undefined ? "" : ` for user ${escapeControls(credential.username)}`;
  const origin = credential ? ` (from ${escapeControls(credential.origin)})` : "";
  return new RegistryError(
    "EUNAUTHORIZED",
    `${what}: ${registry} rejected the credentials${user}${origin}`,
    {
      hint:
        credential?.origin === "the command line"
          ? "check the user name and password given on the command line (--creds USER:PASSWORD, or --username with --password-stdin)"
          : `check the user name and password, or log in again with ferry login ${registry}`,
      status: 401,
    },
  );
}
