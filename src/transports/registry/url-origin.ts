import type http from "node:http";
import type { Descriptor } from "../../types/descriptor.js";
import type { BlobOrigin } from "./blob-download.js";
import { RegistryError } from "./errors.js";
import { discardBody, type HttpResponse, headerValue, sendHttp } from "./http.js";
import { resolveLocation } from "./location.js";
import { displayUrl } from "./redact.js";
import { isRetryableStatus, parseRetryAfter } from "./retry.js";

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export interface UrlOriginOptions {
  agentFor: (url: URL) => http.Agent;
  stallTimeoutMs: number;
  /** The longest to wait for a response head (ms); the body is held to the speed floor. */
  deadlineMs?: number;
  userAgent: string;
  /** For messages: `blob sha256:... of host/repo:tag`. */
  what: string;
}

/** The http(s) URLs of a descriptor (`urls`, as foreign layers carry), others dropped. */
export function httpUrlsOf(descriptor: Descriptor): URL[] {
  const urls: URL[] = [];
  for (const text of descriptor.urls ?? []) {
    try {
      const url = new URL(text);
      if ((url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password)
        urls.push(url);
    } catch {
      // not a URL: skipped
    }
  }
  return urls;
}

/**
 * A plain URL as a blob origin (foreign layers): GET with Range, redirects followed, no
 * credentials ever sent. The bytes are checked against the digest by the downloader like any
 * other.
 */
export function urlOrigin(start: URL, options: UrlOriginOptions): BlobOrigin {
  return {
    label: displayUrl(start),
    async open(offset: number, signal: AbortSignal): Promise<HttpResponse> {
      let url = start;
      for (let redirects = 0; ; redirects++) {
        const response = await sendHttp(url, {
          headers: {
            "User-Agent": options.userAgent,
            ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
          },
          agent: options.agentFor(url),
          stallTimeoutMs: options.stallTimeoutMs,
          ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
          signal,
          rawBody: true,
        });
        const location = headerValue(response.headers, "location");
        if (REDIRECTS.has(response.status) && location && redirects < MAX_REDIRECTS) {
          await discardBody(response);
          url = resolveLocation(location, url, options.what);
          continue;
        }
        if (response.status === 200 || response.status === 206 || response.status === 416)
          return response;
        await discardBody(response);
        const retryAfterMs = parseRetryAfter(headerValue(response.headers, "retry-after"));
        throw new RegistryError(
          response.status === 404 ? "ENOTFOUND" : "EREGISTRY",
          `${options.what}: ${displayUrl(url)} answered HTTP ${response.status}`,
          {
            transient: isRetryableStatus(response.status),
            status: response.status,
            ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          },
        );
      }
    },
  };
}
