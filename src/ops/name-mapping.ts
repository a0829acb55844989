/**
 * Where images land in an offline registry (docs/offline-registry.md, "Names").
 *
 * `--to-registry HOST[:PORT][/PREFIX]`: the source registry host is dropped and the path kept,
 * under PREFIX; the tag (else the digest) is kept:
 *
 *   mcr.microsoft.com/windows/nanoserver:ltsc2022 -> HOST:5000/PREFIX/windows/nanoserver:ltsc2022
 *   docker.io/library/alpine:3.19                 -> HOST:5000/PREFIX/library/alpine:3.19
 *   os.ferry.invalid/nanoserver:10.0.14300.1010   -> HOST:5000/PREFIX/nanoserver:10.0.14300.1010
 *
 * The same rule for everything: Docker Hub's `library/` stays (it is part of the normalized
 * path, and keeps `alpine` apart from a WIM named `alpine`), and Windows base OS images lose
 * their reserved `os.ferry.invalid` host like any other. Two sources that map to one target
 * name are refused before anything is pushed.
 *
 * `ferry push REF DEST`: DEST is a full reference in docker's grammar; without a tag it gets
 * the source's tag (else its digest).
 */

import { UsageError } from "../errors.js";
import { formatReference, parseReference, type Reference } from "../types/reference.js";
import { type RegistryTarget, stripDockerScheme } from "../types/registry-target.js";

/** The target of one image under `--to-registry` (see the module comment). */
export function mapToRegistry(sourceName: string, target: RegistryTarget): Reference {
  const source = parseReference(sourceName, { defaultTag: false });
  const repository = target.prefix ? `${target.prefix}/${source.repository}` : source.repository;
  const mapped: Reference = { registry: target.registry, repository };
  if (source.tag) mapped.tag = source.tag;
  else if (source.digest) mapped.digest = source.digest;
  else mapped.tag = "latest";
  // The grammar's limits (the name may now be too long).
  parseReference(formatReference(mapped));
  return mapped;
}

/** The target of `ferry push REF DEST`. */
export function parseDestination(dest: string, sourceName: string): Reference {
  const parsed = parseReference(stripDockerScheme(dest), { defaultTag: false });
  if (parsed.digest) {
    throw new UsageError(`${dest}: a push destination names a tag, not a digest`, {
      hint: "give HOST/REPOSITORY[:TAG]; the digest is the image's own",
    });
  }
  const target: Reference = { registry: parsed.registry, repository: parsed.repository };
  if (parsed.tag) {
    target.tag = parsed.tag;
    return target;
  }
  const source = parseReference(sourceName, { defaultTag: false });
  if (source.tag) target.tag = source.tag;
  else if (source.digest) target.digest = source.digest;
  else target.tag = "latest";
  return target;
}

/** Target names must be unique: two images for one name would race. */
export function checkUniqueTargets(
  items: Array<{ name: string; target: Reference; digest: string }>,
): void {
  const seen = new Map<string, { name: string; digest: string }>();
  for (const item of items) {
    const key = formatReference(item.target);
    const earlier = seen.get(key);
    if (earlier && earlier.digest !== item.digest) {
      throw new UsageError(`${earlier.name} and ${item.name} would both be pushed as ${key}`, {
        hint: "push one of them on its own with ferry push REF DEST, naming another destination",
      });
    }
    seen.set(key, { name: item.name, digest: item.digest });
  }
}
