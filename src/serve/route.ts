/**
 * Which endpoint of the distribution API a request names, checked before anything is read:
 * the path is matched as sent (no percent-decoding, so `%2e%2e` is no way around the grammar),
 * the repository NAME by the distribution grammar, digests by `sha256:<64 hex>`, tags by the
 * tag grammar. Pure: no I/O.
 */

import { type Digest, isDigest } from "../types/digest.js";
import { isValidTag } from "../types/reference.js";
import { DistributionError } from "./distribution-error.js";
import { isRepositoryName, NAME_PATTERN } from "./names.js";

export type Route =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "tags"; name: string }
  | { kind: "manifest"; name: string; reference: { tag: string } | { digest: Digest } }
  | { kind: "blob"; name: string; digest: Digest }
  | { kind: "referrers"; name: string; digest: Digest };

/** The query parameters ferry serve reads. */
export interface RouteQuery {
  n?: string;
  last?: string;
  artifactType?: string;
}

export interface ParsedRequest {
  route: Route;
  query: RouteQuery;
}

/** The methods that read; everything else is a write, refused. */
const READ_METHODS = new Set(["GET", "HEAD"]);

const ALLOW = { Allow: "GET, HEAD" };

/** Anything under /v2/ that ends like an endpoint: NAME, endpoint, and what follows. */
const ENDPOINT = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/(.*)$/;
/** Blob uploads: `/v2/NAME/blobs/uploads/` and `/v2/NAME/blobs/uploads/UUID`. */
const UPLOADS = new RegExp(`^/v2/${NAME_PATTERN}/blobs/uploads(?:/.*)?$`);
/** What a digest looks like in the distribution grammar (any algorithm). */
const DIGEST_SHAPE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Bytes a query may carry; more is refused rather than parsed. */
const QUERY_MAX = 2048;

function writeRefused(method: string): DistributionError {
  return new DistributionError(
    "UNSUPPORTED",
    `ferry serve is read-only: ${method} is not supported (to push, load into a registry: ferry load --to registry:HOST)`,
    undefined,
    { ...ALLOW, Connection: "close" },
  );
}

function notAnEndpoint(): DistributionError {
  return new DistributionError("NOT_FOUND", "not an endpoint of the distribution API");
}

function checkName(name: string): string {
  if (!isRepositoryName(name)) {
    throw new DistributionError(
      "NAME_INVALID",
      "invalid repository name: lower-case letters and digits, separated by '.', '_', '__', '-' or '/', at most 255 characters",
    );
  }
  return name;
}

function checkDigest(text: string): Digest {
  if (isDigest(text)) return text;
  if (DIGEST_SHAPE.test(text) && !text.startsWith("sha256:")) {
    throw new DistributionError(
      "DIGEST_INVALID",
      "unsupported digest algorithm: ferry serves sha256 digests only",
    );
  }
  throw new DistributionError(
    "DIGEST_INVALID",
    'invalid digest: expected "sha256:" and 64 lower-case hex characters',
  );
}

function manifestReference(text: string): { tag: string } | { digest: Digest } {
  if (text.includes(":")) return { digest: checkDigest(text) };
  if (!isValidTag(text)) {
    throw new DistributionError(
      "TAG_INVALID",
      "invalid tag: letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters",
    );
  }
  return { tag: text };
}

function parseQuery(search: string): RouteQuery {
  if (search.length > QUERY_MAX) throw notAnEndpoint();
  const params = new URLSearchParams(search);
  const query: RouteQuery = {};
  const n = params.get("n");
  const last = params.get("last");
  const artifactType = params.get("artifactType");
  if (n !== null) query.n = n;
  if (last !== null) query.last = last;
  if (artifactType !== null) query.artifactType = artifactType;
  return query;
}

/**
 * The endpoint a request names, or a DistributionError to answer with: UNSUPPORTED (405) for
 * any method but GET and HEAD and for uploads, NOT_FOUND for paths outside the API,
 * NAME_INVALID / DIGEST_INVALID / TAG_INVALID for parts that break the grammar.
 */
export function parseRequest(method: string, url: string): ParsedRequest {
  const question = url.indexOf("?");
  const path = question === -1 ? url : url.slice(0, question);
  const search = question === -1 ? "" : url.slice(question + 1);
  if (path !== "/v2" && !path.startsWith("/v2/")) {
    if (!READ_METHODS.has(method)) throw writeRefused(method);
    throw notAnEndpoint();
  }
  if (!READ_METHODS.has(method) || UPLOADS.test(path)) throw writeRefused(method);
  const query = parseQuery(search);
  if (path === "/v2" || path === "/v2/") return { route: { kind: "base" }, query };
  if (path === "/v2/_catalog") return { route: { kind: "catalog" }, query };
  const match = ENDPOINT.exec(path);
  if (!match) throw notAnEndpoint();
  const [, rawName, endpoint, rest] = match as unknown as [string, string, string, string];
  const name = checkName(rawName);
  switch (endpoint) {
    case "tags":
      if (rest !== "list") throw notAnEndpoint();
      return { route: { kind: "tags", name }, query };
    case "manifests":
      return { route: { kind: "manifest", name, reference: manifestReference(rest) }, query };
    case "blobs":
      return { route: { kind: "blob", name, digest: checkDigest(rest) }, query };
    default:
      return { route: { kind: "referrers", name, digest: checkDigest(rest) }, query };
  }
}
