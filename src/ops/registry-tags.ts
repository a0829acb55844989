import { UsageError } from "../errors.js";
import type { ClientOptions } from "../transports/registry/session.js";
import { openClient } from "../transports/registry/session.js";
import { parseReference, repositoryOf } from "../types/reference.js";

export interface TagList {
  /** `registry/repository`. */
  repository: string;
  tags: string[];
}

/**
 * Every tag of a repository (`docker.io/library/alpine`, `host:5000/team/app`), following the
 * registry's pagination, sorted (numbers compared as numbers).
 */
export async function listTags(repository: string, clientOptions: ClientOptions): Promise<TagList> {
  const ref = parseReference(repository, { defaultTag: false });
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new UsageError(`${repository}: name a repository, without a tag or digest`);
  }
  const client = await openClient(ref.registry, clientOptions);
  try {
    const tags = await client.listTags(ref.repository);
    const collator = new Intl.Collator("en", { numeric: true });
    return { repository: repositoryOf(ref), tags: [...new Set(tags)].sort(collator.compare) };
  } finally {
    client.close();
  }
}
