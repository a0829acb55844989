import { RegistryError } from "./errors.js";

/**
 * A `Location` header (a redirect, an upload session) resolved against the request's URL. A
 * server's malformed or non-http(s) location is its error (EREGISTRY), never a TypeError.
 */
export function resolveLocation(location: string, base: URL, what: string): URL {
  let url: URL;
  try {
    url = new URL(location, base);
  } catch {
    throw new RegistryError(
      "EREGISTRY",
      `${what}: ${base.host} named a location that is not a URL`,
      {
        hint: "the server is broken or hostile: tell its owner",
        details: { host: base.host },
      },
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RegistryError(
      "EREGISTRY",
      `${what}: ${base.host} named a location that is not an http(s) URL (${url.protocol})`,
      { hint: "the server is broken or hostile: tell its owner", details: { host: base.host } },
    );
  }
  return url;
}
