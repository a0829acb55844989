/**
 * The answers of ferry serve's endpoints, each from one view of the store (see snapshot.ts).
 */

import type { Descriptor } from "../types/descriptor.js";
import type { Digest } from "../types/digest.js";
import { MediaType } from "../types/media-types.js";
import { sendBlob } from "./blob-body.js";
import { DistributionError } from "./distribution-error.js";
import type { Exchange } from "./exchange.js";
import { paginate } from "./pagination.js";
import type { ParsedRequest, RouteQuery } from "./route.js";
import type { StoreSnapshot } from "./snapshot.js";
import type { StoreReader } from "./store-reader.js";

export interface ServeContext {
  reader: StoreReader;
  /** The view of the store for this request (index.json read once). */
  snapshot(): Promise<StoreSnapshot>;
}

function manifestUnknown(): DistributionError {
  return new DistributionError("MANIFEST_UNKNOWN", "manifest unknown to registry");
}

/** The mediaType a manifest's own bytes declare, else `fallback`. */
function ownMediaType(bytes: Buffer, fallback: string): string {
  try {
    const declared = (JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown }).mediaType;
    return typeof declared === "string" && declared.length > 0 ? declared : fallback;
  } catch {
    return fallback;
  }
}

async function sendManifest(
  exchange: Exchange,
  context: ServeContext,
  descriptor: Pick<Descriptor, "digest" | "size" | "mediaType">,
): Promise<void> {
  const bytes = await context.reader.manifestBytes(descriptor.digest, descriptor.size);
  if (bytes === undefined) throw manifestUnknown();
  exchange.send(
    200,
    {
      "Content-Type": ownMediaType(bytes, descriptor.mediaType),
      "Docker-Content-Digest": descriptor.digest,
      ETag: `"${descriptor.digest}"`,
    },
    bytes,
  );
}

async function manifest(
  exchange: Exchange,
  context: ServeContext,
  name: string,
  reference: { tag: string } | { digest: Digest },
): Promise<void> {
  const snapshot = await context.snapshot();
  const repository = snapshot.repository(name);
  if ("tag" in reference) {
    const descriptor = repository.tags.get(reference.tag);
    if (descriptor === undefined) throw manifestUnknown();
    await sendManifest(exchange, context, descriptor);
    return;
  }
  const graph = await snapshot.graph();
  const facts = graph.manifestsOf(repository.name.full, repository.roots).get(reference.digest);
  if (facts === undefined) throw manifestUnknown();
  await sendManifest(exchange, context, {
    digest: reference.digest,
    size: facts.size,
    mediaType: facts.mediaType,
  });
}

async function tags(
  exchange: Exchange,
  context: ServeContext,
  name: string,
  query: RouteQuery,
): Promise<void> {
  const repository = (await context.snapshot()).repository(name);
  const page = paginate([...repository.tags.keys()].sort(), query, `/v2/${name}/tags/list`);
  exchange.sendJson(200, { name, tags: page.items }, page.link ? { Link: page.link } : {});
}

async function catalog(exchange: Exchange, context: ServeContext, query: RouteQuery) {
  const page = paginate((await context.snapshot()).catalog(), query, "/v2/_catalog");
  exchange.sendJson(200, { repositories: page.items }, page.link ? { Link: page.link } : {});
}

/**
 * OCI 1.1 referrers: an index of the manifests whose `subject` is the digest, among those the
 * store holds; an empty index for a digest nothing refers to (never 404, as the spec asks).
 */
async function referrers(
  exchange: Exchange,
  context: ServeContext,
  name: string,
  digest: Digest,
  query: RouteQuery,
): Promise<void> {
  const snapshot = await context.snapshot();
  const repository = snapshot.repository(name);
  const graph = await snapshot.graph();
  const held = graph.manifestsOf(repository.name.full, repository.roots);
  let manifests = held.has(digest) ? graph.referrersOf(digest) : [];
  const headers: Record<string, string> = { "Content-Type": MediaType.OciIndex };
  if (query.artifactType !== undefined) {
    manifests = manifests.filter((m) => m.artifactType === query.artifactType);
    headers["OCI-Filters-Applied"] = "artifactType";
  }
  exchange.send(
    200,
    headers,
    Buffer.from(
      `${JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests })}\n`,
    ),
  );
}

async function blob(
  exchange: Exchange,
  context: ServeContext,
  name: string,
  digest: Digest,
): Promise<void> {
  (await context.snapshot()).repository(name);
  const opened = await context.reader.openBlob(digest);
  if (opened === undefined) {
    throw new DistributionError("BLOB_UNKNOWN", "blob unknown to registry", { digest });
  }
  await sendBlob(exchange, digest, opened);
}

/** Answer one parsed request. */
export async function answer(
  exchange: Exchange,
  context: ServeContext,
  parsed: ParsedRequest,
): Promise<void> {
  const { route, query } = parsed;
  switch (route.kind) {
    case "base":
      exchange.sendJson(200, {});
      return;
    case "catalog":
      return catalog(exchange, context, query);
    case "tags":
      return tags(exchange, context, route.name, query);
    case "manifest":
      return manifest(exchange, context, route.name, route.reference);
    case "referrers":
      return referrers(exchange, context, route.name, route.digest, query);
    case "blob":
      return blob(exchange, context, route.name, route.digest);
  }
}
