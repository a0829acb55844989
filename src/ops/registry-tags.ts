import { UsageError } from "../errors.js";
import type { ClientOptions } from "../transports/registry/session.js";
import { openClient } from "../transports/registry/session.js";
import { isValidTag, parseReference, repositoryOf } from "../types/reference.js";

export interface TagList {
  /** `registry/repository`. */
  repository: string;
  tags: string[];
  /**
   * Names the registry listed that are not tags by the distribution grammar (control
   * characters, spaces, too long...): left out of `tags`, kept here for a notice. Absent when
   * there are none.
   */
  invalid?: string[];
}

/**
 * Every tag of a repository (`docker.io/library/alpine`, `host:5000/team/app`), following the
 * registry's pagination, sorted (numbers compared as numbers). Names that are not valid tags are
 * left out and returned apart: the registry is not trusted to send only tags.
 */
export async function listTags(repository: string, clientOptions: ClientOptions): Promise<TagList> {
  const ref = parseReference(repository, { defaultTag: false });
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new UsageError(`${repository}: name a repository, without a tag or digest`);
  }
  const client = await openClient(ref.registry, clientOptions);
  try {
    const listed = [...new Set(await client.listTags(ref.repository))];
    const collator = new Intl.Collator("en", { numeric: true });
    const invalid = listed.filter((tag) => !isValidTag(tag));
    return {
      repository: repositoryOf(ref),
      tags: listed.filter(isValidTag).sort(collator.compare),
      ...(invalid.length > 0 ? { invalid } : {}),
    };
  } finally {
    client.close();
  }
}
