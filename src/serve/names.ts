/**
 * How the store's full names appear to clients of `ferry serve`, and the grammar the request
 * paths are checked against. Pure: no I/O.
 *
 * The store names images by full reference (`docker.io/library/alpine:3.19`). A client asks for
 * a repository NAME under the server's own host (`127.0.0.1:5000/NAME:TAG`), and NAME follows the
 * distribution grammar: lower-case path components, no port, no upper case. One stored
 * repository answers to several NAMEs, tried in this order:
 *
 * 1. its full name, when that is a valid NAME: `docker.io/library/alpine`,
 *    `mcr.microsoft.com/windows/nanoserver` (a registry with a port or upper case is not);
 * 2. for Docker Hub images, the names docker itself uses: `library/alpine` and `alpine`,
 *    `user/app`;
 * 3. the path inside its registry alone, when exactly one stored registry has that path:
 *    `windows/nanoserver`, `app` for `localhost:5000/app`.
 *
 * The first rule that matches decides; a NAME that rule 3 gives to several stored repositories
 * is ambiguous and answered NAME_UNKNOWN, naming them (use the full name).
 */

import { parseReference } from "../types/reference.js";

/** One path component of a repository name (the distribution grammar). */
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
/** A repository name: components separated by "/". */
export const NAME_PATTERN = `${COMPONENT}(?:/${COMPONENT})*`;
const NAME_REGEX = new RegExp(`^${NAME_PATTERN}$`);
/** The distribution limit on a repository name's length. */
export const NAME_LENGTH_MAX = 255;

/** Whether `name` is a repository name a client may send (grammar and length). */
export function isRepositoryName(name: string): boolean {
  return name.length <= NAME_LENGTH_MAX && NAME_REGEX.test(name);
}

/** A stored repository: its full name split as the store's references are. */
export interface StoredName {
  /** `docker.io/library/alpine` */
  full: string;
  /** `docker.io` */
  registry: string;
  /** `library/alpine` */
  repository: string;
}

/** The full name of a stored reference's repository, or undefined when it does not parse. */
export function storedNameOf(reference: string): StoredName | undefined {
  try {
    const parsed = parseReference(reference, { defaultTag: false });
    return {
      full: `${parsed.registry}/${parsed.repository}`,
      registry: parsed.registry,
      repository: parsed.repository,
    };
  } catch {
    return undefined;
  }
}

/** The NAMEs one stored repository answers to, with the rule that gives each (1, 2 or 3). */
function spellingsOf(name: StoredName): Array<{ spelling: string; rule: 1 | 2 | 3 }> {
  const spellings: Array<{ spelling: string; rule: 1 | 2 | 3 }> = [];
  if (isRepositoryName(name.full)) spellings.push({ spelling: name.full, rule: 1 });
  if (name.registry === "docker.io") {
    spellings.push({ spelling: name.repository, rule: 2 });
    const official = /^library\/([^/]+)$/.exec(name.repository);
    if (official) spellings.push({ spelling: official[1] as string, rule: 2 });
  } else if (isRepositoryName(name.repository)) {
    spellings.push({ spelling: name.repository, rule: 3 });
  }
  return spellings;
}

/** What a NAME means in one set of stored repositories. */
export type NameResolution =
  | { kind: "found"; full: string }
  | { kind: "unknown" }
  | { kind: "ambiguous"; candidates: string[] };

/**
 * The names of a set of stored repositories, as clients see them: which NAME means which
 * repository, and the one NAME the catalog lists for each.
 */
export class NameMap {
  /** For each NAME, the best rule that gives it and the repositories it gives it to. */
  private readonly byName = new Map<string, { rule: number; fulls: string[] }>();

  constructor(names: Iterable<StoredName>) {
    for (const name of names) {
      for (const { spelling, rule } of spellingsOf(name)) {
        const known = this.byName.get(spelling);
        if (known === undefined || rule < known.rule) {
          this.byName.set(spelling, { rule, fulls: [name.full] });
        } else if (rule === known.rule && !known.fulls.includes(name.full)) {
          known.fulls.push(name.full);
        }
      }
    }
  }

  resolve(name: string): NameResolution {
    const known = this.byName.get(name);
    if (known === undefined) return { kind: "unknown" };
    if (known.fulls.length === 1) return { kind: "found", full: known.fulls[0] as string };
    return { kind: "ambiguous", candidates: [...known.fulls].sort() };
  }

  /**
   * The NAME the catalog lists for a stored repository: its full name where that is a valid
   * NAME, else the first other spelling that means it alone; undefined when none does.
   */
  catalogName(name: StoredName): string | undefined {
    for (const { spelling } of spellingsOf(name)) {
      const resolved = this.resolve(spelling);
      if (resolved.kind === "found" && resolved.full === name.full) return spelling;
    }
    return undefined;
  }
}
