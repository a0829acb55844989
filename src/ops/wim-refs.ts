/**
 * Names in the store, with Windows base OS images in mind.
 *
 * OS images live under the reserved registry name `os.ferry.invalid`
 * (`os.ferry.invalid/nanoserver:10.0.14300.1010`), so they never collide with docker references
 * (`nanoserver:1.0` alone would mean `docker.io/library/nanoserver:1.0`). People still write
 * them the old way: `nanoserver:10.0.14300.1010`, `windowsservercore:latest`, or the legacy
 * full name `CN=Microsoft_NanoServer_10.0.14300.1010`; this module resolves those, refusing
 * a short name that would mean both an OS image and a container image.
 */

import { sha256Digest } from "../digest/sha256.js";
import { NotFoundError, UsageError } from "../errors.js";
import { blobPath, refNameOf, upsertRef } from "../transports/layout/index-file.js";
import { Store } from "../transports/layout/store.js";
import {
  isLegacyFullName,
  LATEST_TAG,
  type OsImageFacts,
  osImageFactsFromManifestBytes,
  osImageRef,
  osImageRepository,
  parseOsImageRef,
  shortOsImageName,
} from "../transports/wim/artifact.js";
import type { Descriptor } from "../types/descriptor.js";
import type { ImageIndex } from "../types/manifest.js";
import { FerryAnnotation, MediaType } from "../types/media-types.js";
import { compareOsVersions } from "../types/platform.js";
import {
  familiarRepository,
  formatReference,
  parseReference,
  repositoryOf,
} from "../types/reference.js";

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** One name in the store's index.json, with the OS image facts when it names a WIM artifact. */
export interface StoreEntry {
  /** The ref.name as index.json writes it. */
  ref: string;
  descriptor: Descriptor;
  /** Set for Windows base OS images (read from the verified manifest). */
  os?: OsImageFacts;
}

/**
 * Read the OS image facts of every manifest-typed entry (one small read per entry, used only
 * when its bytes hash to the entry's digest).
 */
export async function readStoreEntries(store: Store, index: ImageIndex): Promise<StoreEntry[]> {
  const entries: StoreEntry[] = [];
  for (const descriptor of index.manifests) {
    const ref = refNameOf(descriptor);
    if (ref === undefined) continue;
    const entry: StoreEntry = { ref, descriptor };
    if (descriptor.mediaType === MediaType.OciManifest) {
      const bytes = await store.files
        .readFile(blobPath(descriptor.digest), MAX_MANIFEST_BYTES)
        .catch(() => undefined);
      // Facts only from bytes that are the manifest the name points at (checked here, once).
      const verified = bytes && sha256Digest(bytes) === descriptor.digest ? bytes : undefined;
      const os = verified ? osImageFactsFromManifestBytes(verified) : undefined;
      if (os) entry.os = os;
    }
    entries.push(entry);
  }
  return entries;
}

/** How people read a store name: `nanoserver:10.0.14300.1010`, `alpine:3.19`, or as written. */
export function displayName(ref: string): string {
  if (parseOsImageRef(ref)) return shortOsImageName(ref);
  try {
    const parsed = parseReference(ref, { defaultTag: false });
    const tag = parsed.tag ? `:${parsed.tag}` : "";
    const digest = parsed.digest ? `@${parsed.digest}` : "";
    return `${familiarRepository(parsed)}${tag}${digest}`;
  } catch {
    return ref;
  }
}

function normalized(ref: string): string | undefined {
  try {
    return formatReference(parseReference(ref));
  } catch {
    return undefined;
  }
}

/** The version tag of an OS image entry: its tag when that tag is its version, else undefined. */
export function canonicalOsVersion(descriptor: Descriptor): string | undefined {
  const ref = refNameOf(descriptor);
  const parts = ref ? parseOsImageRef(ref) : undefined;
  const version = descriptor.annotations?.[FerryAnnotation.OsVersion];
  return parts && version && parts.tag === version ? version : undefined;
}

/** The newest installed version entry of an OS image repository in `index`. */
export function newestOsVersion(index: ImageIndex, repository: string): Descriptor | undefined {
  let newest: { descriptor: Descriptor; version: string } | undefined;
  for (const descriptor of index.manifests) {
    const version = canonicalOsVersion(descriptor);
    const ref = refNameOf(descriptor);
    if (!version || !ref || parseOsImageRef(ref)?.repository !== repository) continue;
    if (!newest || compareOsVersions(version, newest.version) > 0) newest = { descriptor, version };
  }
  return newest?.descriptor;
}

/** How an argument was resolved. */
export interface Resolution {
  input: string;
  how: "full-name" | "digest" | "reference";
  entries: StoreEntry[];
}

const SHORT_NAME = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?::([\w][\w.-]{0,127}))?$/;
const DIGEST_OR_ID = /^(?:sha256:)?([0-9a-f]{12,64})$/;

function osHint(entries: StoreEntry[]): string {
  const names = [
    ...new Set(
      entries
        .filter((e) => e.os && parseOsImageRef(e.ref))
        .map((e) => `${shortOsImageName(e.ref)} (${e.os?.fullName})`),
    ),
  ];
  return names.length > 0
    ? `installed OS images: ${names.join(", ")}`
    : "`ferry images` lists what the store holds";
}

/**
 * Resolve a user's name for something in the store to the index entries it means:
 * a legacy full name (every version entry with that full name), a digest or image ID prefix
 * (every name pointing at it), an OS image short name, or a docker reference.
 */
export function resolveStoreRef(entries: StoreEntry[], input: string, where: string): Resolution {
  if (isLegacyFullName(input)) {
    const wanted = input.toLowerCase();
    const found = entries.filter(
      (e) => e.os && e.os.fullName.toLowerCase() === wanted && canonicalOsVersion(e.descriptor),
    );
    if (found.length === 0) {
      throw new NotFoundError(`no OS image ${input} in the store ${where}`, {
        hint: osHint(entries),
      });
    }
    return { input, how: "full-name", entries: found };
  }
  const id = DIGEST_OR_ID.exec(input);
  if (id) {
    const found = entries.filter((e) => e.descriptor.digest.slice(7).startsWith(id[1] as string));
    const digests = new Set(found.map((e) => e.descriptor.digest));
    if (digests.size > 1) {
      throw new UsageError(`${input} matches ${digests.size} different images`, {
        hint: "give more digits of the digest",
      });
    }
    if (found.length > 0) return { input, how: "digest", entries: found };
  }
  const short = SHORT_NAME.exec(input);
  const osRef = short
    ? osImageRef(osImageRepository(short[1] as string), short[2] ?? LATEST_TAG)
    : undefined;
  const asOs = osRef ? entries.filter((e) => e.ref === osRef) : [];
  let asDocker: StoreEntry[] = [];
  let dockerName: string | undefined;
  try {
    const parsed = parseReference(input);
    dockerName = formatReference(parsed);
    if (parsed.digest && !parsed.tag) {
      const repository = repositoryOf(parsed);
      asDocker = entries.filter((e) => {
        if (e.descriptor.digest !== parsed.digest) return false;
        try {
          return repositoryOf(parseReference(e.ref)) === repository;
        } catch {
          return false;
        }
      });
    } else {
      asDocker = entries.filter((e) => e.ref === dockerName || normalized(e.ref) === dockerName);
    }
  } catch (error) {
    // `NanoServer:10.0.14300.1010` is no docker reference (upper case), but a fine OS name.
    if (!short) throw error;
  }
  const dockerOnly = asDocker.filter((e) => !asOs.includes(e));
  if (asOs.length > 0 && dockerOnly.length > 0) {
    throw new UsageError(
      `${input} is ambiguous: it names the OS image ${osRef} and the container image ${dockerOnly[0]?.ref}`,
      { hint: `write the full reference: ${osRef} or ${dockerOnly[0]?.ref}` },
    );
  }
  const found = asOs.length > 0 ? asOs : asDocker;
  if (found.length === 0) {
    throw new NotFoundError(`no image ${input} in the store ${where}`, {
      hint: osHint(entries),
      details: { tried: [osRef, dockerName].filter(Boolean) },
    });
  }
  return { input, how: "reference", entries: found };
}

export interface TagReport {
  source: string;
  target: string;
  digest: string;
  /** What the target pointed at before, when it moved. */
  previous?: string;
  kind: "image" | "os-image";
}

/**
 * The full name a new tag gets. For an OS image, a short `name[:tag]` stays among OS images
 * (`nanoserver:prod` is `os.ferry.invalid/nanoserver:prod`); anything else is a docker reference.
 */
export function targetRefName(source: StoreEntry, target: string): string {
  const short = SHORT_NAME.exec(target);
  if (source.os && short) {
    return osImageRef(osImageRepository(short[1] as string), short[2] ?? LATEST_TAG);
  }
  const parsed = parseReference(target);
  if (parsed.digest) {
    throw new UsageError(`${target}: a tag cannot be a digest`, { hint: "give NAME:TAG" });
  }
  return formatReference(parsed);
}

/** Point a new name at the image `source` names (like `docker tag`), under the store lock. */
export async function tagImage(
  storeDir: string,
  source: string,
  target: string,
): Promise<TagReport> {
  const store = await Store.open(storeDir);
  return store.withLock("tagging an image", async () => {
    const index = await store.readIndex();
    const entries = await readStoreEntries(store, index);
    const resolved = resolveStoreRef(entries, source, store.dir);
    const digests = new Set(resolved.entries.map((e) => e.descriptor.digest));
    const entry = resolved.entries[0] as StoreEntry;
    if (digests.size > 1) {
      throw new UsageError(`${source} names ${digests.size} different images`, {
        hint: `name one: ${resolved.entries.map((e) => displayName(e.ref)).join(", ")}`,
      });
    }
    const targetRef = targetRefName(entry, target);
    const annotations = { ...entry.descriptor.annotations };
    delete annotations["org.opencontainers.image.ref.name"];
    const { index: next, previous } = upsertRef(index, targetRef, entry.descriptor, annotations);
    if (previous?.digest !== entry.descriptor.digest) await store.writeIndex(next);
    const report: TagReport = {
      source: entry.ref,
      target: targetRef,
      digest: entry.descriptor.digest,
      kind: entry.os ? "os-image" : "image",
    };
    if (previous && previous.digest !== entry.descriptor.digest) report.previous = previous.digest;
    return report;
  });
}

/**
 * The index.json name of the one image a user's name means, for commands that read one image
 * (`inspect`, `history`, `export`): an OS image short name, a `CN=` full name or a digest
 * resolves as in `rmi`; a name written as index.json has it is taken as it is. A name that
 * resolves to nothing is returned as given, so the layout's own "no image named" answers.
 */
export async function storeRefName(store: Store, input: string): Promise<string> {
  const index = await store.readIndex();
  if (index.manifests.some((descriptor) => refNameOf(descriptor) === input)) return input;
  let resolved: Resolution;
  try {
    resolved = resolveStoreRef(await readStoreEntries(store, index), input, store.dir);
  } catch (error) {
    if (error instanceof NotFoundError) return input;
    throw error;
  }
  const digests = new Set(resolved.entries.map((e) => e.descriptor.digest));
  if (digests.size > 1) {
    throw new UsageError(`${input} names ${digests.size} different images in ${store.dir}`, {
      hint: `name one: ${resolved.entries.map((e) => e.ref).join(", ")}`,
    });
  }
  return resolved.entries[0]?.ref ?? input;
}
