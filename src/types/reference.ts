import { FerryError } from "../errors.js";
import { truncateText } from "./bounded-list.js";
import type { Digest } from "./digest.js";
import { escapeControls } from "./terminal-text.js";

/**
 * A docker image reference, normalized the way docker normalizes it:
 * `alpine` is `{ registry: "docker.io", repository: "library/alpine", tag: "latest" }`.
 */
export interface Reference {
  /** The registry host, with its port when one was given: `docker.io`, `localhost:5000`. */
  registry: string;
  /** The path inside the registry: `library/alpine`, `windows/nanoserver`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export interface ParseReferenceOptions {
  /** Add the tag `latest` when the reference has neither tag nor digest (default true). */
  defaultTag?: boolean;
}

const DOCKER_HUB = "docker.io";
const LEGACY_DOCKER_HUB = "index.docker.io";
const OFFICIAL_IMAGES_NAMESPACE = "library";
const DEFAULT_TAG = "latest";
const NAME_LENGTH_MAX = 255;
const TAG_LENGTH_MAX = 128;

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6_HOST = "\\[[a-fA-F0-9:]+\\]";
const REGISTRY_PATTERN = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6_HOST})(?::[0-9]+)?$`);
const PATH_COMPONENT_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
const DIGEST_ALGORITHM_PATTERN = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/;
const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;
const IMAGE_ID_PATTERN = /^[a-f0-9]{64}$/;

/**
 * Parse a docker image reference (`[registry[:port]/]path[:tag][@sha256:hex]`) and normalize it:
 * no registry means `docker.io`, a single-component Docker Hub path gets `library/`, and
 * `index.docker.io` becomes `docker.io`. Throws FerryError EBADREF naming what is wrong.
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  rejectObviousMistakes(input);
  const { remainder, digest } = splitDigest(input);
  const { name, tag } = splitTag(input, remainder);
  if (name === "") fail(input, "the repository name is empty");
  const { registry, repository } = splitRegistry(name);
  validateRegistry(input, registry);
  validateRepository(input, repository);
  validateNameLength(input, registry, repository);

  const reference: Reference = { registry, repository };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  if (tag === undefined && digest === undefined && (options.defaultTag ?? true)) {
    reference.tag = DEFAULT_TAG;
  }
  return reference;
}

/** The full reference: `docker.io/library/alpine:3.19`, `host:5000/a/b@sha256:...`. */
export function formatReference(ref: Reference): string {
  const tagPart = ref.tag === undefined ? "" : `:${ref.tag}`;
  const digestPart = ref.digest === undefined ? "" : `@${ref.digest}`;
  return `${repositoryOf(ref)}${tagPart}${digestPart}`;
}

/**
 * The repository as `docker images` shows it: `alpine`, `user/app`,
 * `mcr.microsoft.com/windows/nanoserver`.
 */
export function familiarRepository(ref: Reference): string {
  if (ref.registry !== DOCKER_HUB) return repositoryOf(ref);
  const officialPrefix = `${OFFICIAL_IMAGES_NAMESPACE}/`;
  const isOfficialImage =
    ref.repository.startsWith(officialPrefix) &&
    !ref.repository.slice(officialPrefix.length).includes("/");
  return isOfficialImage ? ref.repository.slice(officialPrefix.length) : ref.repository;
}

/**
 * Whether `input` names a whole image: it parses as a reference and carries an explicit tag
 * or digest. A bare tag such as `latest` or `v1.0` is not a whole image name. Never throws.
 */
export function isFullReference(input: string): boolean {
  try {
    const ref = parseReference(input, { defaultTag: false });
    return ref.tag !== undefined || ref.digest !== undefined;
  } catch {
    return false;
  }
}

/**
 * Whether `tag` follows the distribution grammar, `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`: what a
 * tag read from outside (a registry's tag list, an index.json ref name) must be before ferry
 * uses or prints it as a tag.
 */
export function isValidTag(tag: string): boolean {
  return tagProblem(tag) === undefined;
}

/** The same repository with `tag` (validated) and no digest. */
export function withTag(ref: Reference, tag: string): Reference {
  const problem = tagProblem(tag);
  if (problem !== undefined) {
    throw new FerryError("EBADREF", `invalid tag "${shownInput(tag)}": ${problem}`, {
      details: { tag },
    });
  }
  return { registry: ref.registry, repository: ref.repository, tag };
}

/** `registry/repository`, without tag or digest: `docker.io/library/alpine`. */
export function repositoryOf(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/**
 * The text a user (or a file from outside) gave, as quoted in a message: on one line, control
 * characters escaped, cut at 300 characters.
 */
function shownInput(input: string): string {
  return escapeControls(truncateText(input, 300));
}

function fail(input: string, reason: string, hint?: string): never {
  throw new FerryError("EBADREF", `invalid reference "${shownInput(input)}": ${reason}`, {
    ...(hint === undefined ? {} : { hint }),
    details: { reference: input },
  });
}

function rejectObviousMistakes(input: string): void {
  if (input === "") fail(input, "the reference is empty");
  if (/\s/.test(input)) fail(input, "it contains white space");
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input);
  if (scheme) {
    fail(input, `a reference has no scheme "${scheme[0]}"`, `write it without "${scheme[0]}"`);
  }
  if (IMAGE_ID_PATTERN.test(input)) {
    fail(input, "a 64-character hex string is an image ID, not a repository name");
  }
}

function splitDigest(input: string): { remainder: string; digest?: Digest } {
  const at = input.indexOf("@");
  if (at === -1) return { remainder: input };
  const digestText = input.slice(at + 1);
  if (digestText.includes("@")) fail(input, 'it contains more than one "@"');
  return { remainder: input.slice(0, at), digest: parseDigest(input, digestText) };
}

function parseDigest(input: string, text: string): Digest {
  if (text === "") fail(input, 'the digest after "@" is empty');
  const colon = text.indexOf(":");
  const algorithm = colon === -1 ? "" : text.slice(0, colon);
  const hex = colon === -1 ? "" : text.slice(colon + 1);
  if (algorithm === "" || !DIGEST_ALGORITHM_PATTERN.test(algorithm) || hex === "") {
    fail(
      input,
      `malformed digest "${shownInput(text)}": expected "sha256:" and 64 lower-case hex characters`,
    );
  }
  if (algorithm !== "sha256") {
    fail(
      input,
      `unsupported digest algorithm "${shownInput(algorithm)}": ferry accepts only sha256 digests`,
    );
  }
  if (!SHA256_HEX_PATTERN.test(hex)) {
    fail(
      input,
      `malformed sha256 digest "${shownInput(text)}": expected 64 lower-case hex characters, got ${hex.length} characters`,
    );
  }
  return `sha256:${hex}`;
}

function splitTag(input: string, remainder: string): { name: string; tag?: string } {
  const colon = remainder.lastIndexOf(":");
  if (colon === -1 || colon < remainder.lastIndexOf("/")) return { name: remainder };
  const tag = remainder.slice(colon + 1);
  const problem = tagProblem(tag);
  if (problem !== undefined) fail(input, `invalid tag "${shownInput(tag)}": ${problem}`);
  return { name: remainder.slice(0, colon), tag };
}

/** Why `tag` is not a valid tag, or undefined when it is. */
function tagProblem(tag: string): string | undefined {
  if (tag === "") return "the tag is empty";
  if (tag.length > TAG_LENGTH_MAX) {
    return `a tag is at most ${TAG_LENGTH_MAX} characters, this one has ${tag.length}`;
  }
  if (!TAG_PATTERN.test(tag)) {
    return 'a tag is made of letters, digits, "_", "." and "-", and does not start with "." or "-"';
  }
  return undefined;
}

/** Docker's rule: the first component is a registry if it looks like a host name. */
function looksLikeRegistry(component: string): boolean {
  return (
    component.includes(".") ||
    component.includes(":") ||
    component === "localhost" ||
    component !== component.toLowerCase()
  );
}

function splitRegistry(name: string): { registry: string; repository: string } {
  const slash = name.indexOf("/");
  const first = slash === -1 ? "" : name.slice(0, slash);
  let registry = DOCKER_HUB;
  let repository = name;
  if (slash !== -1 && looksLikeRegistry(first)) {
    registry = first === LEGACY_DOCKER_HUB ? DOCKER_HUB : first;
    repository = name.slice(slash + 1);
  }
  if (registry === DOCKER_HUB && repository !== "" && !repository.includes("/")) {
    repository = `${OFFICIAL_IMAGES_NAMESPACE}/${repository}`;
  }
  return { registry, repository };
}

function validateRegistry(input: string, registry: string): void {
  if (!REGISTRY_PATTERN.test(registry)) {
    fail(
      input,
      `invalid registry "${shownInput(registry)}": expected a host name, an IPv4 address or a [bracketed] IPv6 address, optionally with ":port"`,
    );
  }
}

function validateRepository(input: string, repository: string): void {
  if (repository === "") fail(input, "the repository path is empty");
  if (repository !== repository.toLowerCase()) {
    fail(
      input,
      `repository name must be lowercase (got "${shownInput(repository)}")`,
      `write the repository as "${shownInput(repository.toLowerCase())}"`,
    );
  }
  for (const component of repository.split("/")) {
    if (component === "") {
      fail(input, 'the repository path has an empty component (a leading, trailing or double "/")');
    }
    if (!PATH_COMPONENT_PATTERN.test(component)) {
      fail(
        input,
        `invalid path component "${shownInput(component)}": use lower-case letters and digits, separated by single ".", "_", "__" or runs of "-"`,
      );
    }
  }
}

function validateNameLength(input: string, registry: string, repository: string): void {
  const length = registry.length + 1 + repository.length;
  if (length > NAME_LENGTH_MAX) {
    fail(input, `the name is ${length} characters long, the limit is ${NAME_LENGTH_MAX}`);
  }
}
