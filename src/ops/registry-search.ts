import { UsageError } from "../errors.js";
import type { ClientOptions } from "../transports/registry/session.js";
import { openClient } from "../transports/registry/session.js";
import { parseReference } from "../types/reference.js";

/** What a catalog search found. */
export interface CatalogSearchResult {
  registry: string;
  prefix: string;
  repositories: string[];
  /** True when `limit` cut the list short. */
  truncated: boolean;
}

export interface CatalogSearchOptions {
  /** Stop after this many matches (default 1000). */
  limit?: number;
  /** Repositories asked for per page (default 100). */
  pageSize?: number;
}

/**
 * Split `REGISTRY[/PREFIX]`: `registry.local:5000/team/` -> registry `registry.local:5000`,
 * prefix `team/`. The registry part must look like a host (a dot, a port, or `localhost`).
 */
export function parseSearchTarget(text: string): { registry: string; prefix: string } {
  const slash = text.indexOf("/");
  const registry = (slash < 0 ? text : text.slice(0, slash)).toLowerCase();
  const prefix = slash < 0 ? "" : text.slice(slash + 1);
  const looksLikeHost =
    registry.includes(".") || registry.includes(":") || registry === "localhost";
  if (!registry || !looksLikeHost) {
    throw new UsageError(`${text}: name a registry host first, e.g. registry.example.com[/PREFIX]`);
  }
  if (registry === "docker.io" || registry.endsWith(".docker.io")) {
    throw new UsageError("Docker Hub does not offer a catalog of its repositories", {
      hint: "search Docker Hub on its web site; ferry tags docker.io/REPO lists a repository's tags",
    });
  }
  if (prefix) parseReference(`${registry}/${prefix.replace(/\/$/, "")}`, { defaultTag: false });
  return { registry, prefix };
}

/**
 * List a registry's repositories from its catalog (`/v2/_catalog`, following pagination),
 * keeping those whose name starts with the prefix. Many public registries do not offer the
 * catalog; they answer 401/404 and the error says so.
 */
export async function searchCatalog(
  target: string,
  clientOptions: ClientOptions,
  options: CatalogSearchOptions = {},
): Promise<CatalogSearchResult> {
  const { registry, prefix } = parseSearchTarget(target);
  const limit = options.limit ?? 1000;
  const client = await openClient(registry, clientOptions);
  const repositories: string[] = [];
  let truncated = false;
  try {
    await client.catalog(options.pageSize ?? 100, (names) => {
      for (const name of names) {
        if (!name.startsWith(prefix)) continue;
        if (repositories.length >= limit) {
          truncated = true;
          return false;
        }
        repositories.push(name);
      }
      return true;
    });
  } finally {
    client.close();
  }
  return { registry, prefix, repositories, truncated };
}
