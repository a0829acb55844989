/**
 * A registry and a path prefix in it, where images land by the mapping rule
 * (ops/name-mapping.ts): `--to registry:HOST[:PORT][/PREFIX]`, `--to-registry HOST[:PORT][/PREFIX]`.
 */

import { UsageError } from "../errors.js";
import { parseReference } from "./reference.js";

export interface RegistryTarget {
  /** `host[:port]` as references spell it. */
  registry: string;
  /** Path components under which images land, without slashes at the ends; may be empty. */
  prefix: string;
}

/** `docker://REF` as `REF`. */
export function stripDockerScheme(text: string): string {
  return text.startsWith("docker://") ? text.slice("docker://".length) : text;
}

/** True when `component` is what docker reads as a registry host, not as a Docker Hub path. */
function isHostLike(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

/**
 * Parse `HOST[:PORT][/PREFIX]` (a `docker://` in front is allowed); `label` is how the user
 * wrote it, for messages (`--to-registry HOST`, `--to registry:HOST`).
 */
export function parseRegistryTarget(
  input: string,
  label = `--to-registry ${input}`,
): RegistryTarget {
  const text = stripDockerScheme(input.trim()).replace(/\/+$/, "");
  const slash = text.indexOf("/");
  const registry = slash === -1 ? text : text.slice(0, slash);
  const prefix = slash === -1 ? "" : text.slice(slash + 1);
  if (!registry) throw new UsageError(`${label}: no registry host`);
  if (!isHostLike(registry)) {
    throw new UsageError(
      `${label}: "${registry}" does not look like a registry host (no dot, no port)`,
      {
        hint: `docker would read ${registry}/... as a Docker Hub name: write ${registry}:5000, ${registry}.lan or localhost`,
      },
    );
  }
  try {
    parseReference(`${registry}/${prefix ? `${prefix}/` : ""}x:t`);
  } catch (error) {
    throw new UsageError(`${label}: ${(error as Error).message}`, {
      hint: "HOST[:PORT][/PREFIX], the prefix in lower case: registry.lan:5000/mirror",
    });
  }
  return { registry, prefix };
}
