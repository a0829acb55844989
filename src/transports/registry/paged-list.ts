/**
 * Lists a registry hands out in pages (a repository's tags, the catalog): each page a JSON
 * object, the next one named by the answer's `Link` header (RFC 8288), on the registry's own
 * host only.
 */

import type { RegistryRequest } from "./client.js";
import { RegistryError } from "./errors.js";
import { type HttpResponse, headerValue } from "./http.js";
import { nextPageUrl } from "./link-header.js";

const MAX_LIST_BYTES = 16 * 1024 * 1024;
const MAX_PAGES = 10_000;

/** What reading pages needs of a registry client. */
export interface PageFetcher {
  readonly registry: string;
  fetchSmall(
    request: RegistryRequest,
    limit: number,
  ): Promise<{ response: HttpResponse; bytes: Buffer }>;
}

/**
 * Read the pages from `firstPath` on, each handed to `onPage` (false: stop). A page that is
 * not a JSON object is EREGISTRY; a page met twice (a link loop) ends the list, and so does
 * page 10,000.
 */
export async function readPages(
  client: PageFetcher,
  firstPath: string,
  scopes: string[],
  what: string,
  onPage: (body: object) => boolean,
): Promise<void> {
  let next: string | undefined = firstPath;
  const seen = new Set<string>();
  for (let page = 0; next && page < MAX_PAGES; page++) {
    if (seen.has(next)) break;
    seen.add(next);
    const { response, bytes } = await client.fetchSmall(
      { path: next, scopes, what },
      MAX_LIST_BYTES,
    );
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString("utf8"));
    } catch {
      body = undefined;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new RegistryError(
        "EREGISTRY",
        `${what}: ${client.registry} answered something that is not a JSON object`,
      );
    }
    if (!onPage(body)) return;
    const link = headerValue(response.headers, "link");
    next = link ? nextPageUrl(link, response.url) : undefined;
  }
}
