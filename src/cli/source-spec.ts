import { stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.js";
import type { RegistrySession } from "../transports/registry/session.js";
import type { WimDownloadLimits, WimNetwork } from "../transports/wim/download.js";
import { parseReference } from "../types/reference.js";
import { escapeControls } from "../types/terminal-text.js";
import type { Source } from "../types/transport.js";
import { isHttpUrl } from "../types/url.js";

export type SourceSpec =
  | { transport: "oci"; path: string; ref?: string }
  | { transport: "oci-archive"; path: string; ref?: string }
  | { transport: "docker-archive"; path: string; ref?: string }
  | { transport: "wim"; location: string; sha256?: string }
  | { transport: "docker"; ref: string };

const TRANSPORTS = ["oci", "oci-archive", "docker-archive"] as const;

/** A Windows drive at the start of a path: one letter, a colon, a slash or backslash. */
const DRIVE_LETTER = /^[A-Za-z]:[\\/]/;

/**
 * Split `PATH[:REF]` the way skopeo does: the path ends at the first colon, except the colon
 * of a Windows drive letter (`C:\layouts\app:1.0` is the path `C:\layouts\app`, REF `1.0`).
 */
function splitPathAndRef(rest: string): { path: string; ref?: string } {
  const colon = rest.indexOf(":", DRIVE_LETTER.test(rest) ? 2 : 0);
  if (colon < 0) return { path: rest };
  const ref = rest.slice(colon + 1);
  return ref ? { path: rest.slice(0, colon), ref } : { path: rest.slice(0, colon) };
}

/**
 * Parse a source argument: `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
 * `docker-archive:FILE[:REF|@N]` (DIR and FILE may start with a Windows drive letter),
 * `wim:PATH|URL`, a `.wim` path or URL, `docker://REF` or a bare image reference.
 */
export function parseSourceSpec(text: string): SourceSpec {
  const colon = text.indexOf(":");
  const prefix = colon > 0 ? text.slice(0, colon) : "";
  if ((TRANSPORTS as readonly string[]).includes(prefix)) {
    const { path: where, ref } = splitPathAndRef(text.slice(colon + 1));
    if (!where) throw new UsageError(`${escapeControls(text)}: the ${prefix} source needs a path`);
    return {
      transport: prefix as (typeof TRANSPORTS)[number],
      path: where,
      ...(ref ? { ref } : {}),
    };
  }
  const wim = parseWimSpec(text, prefix);
  if (wim) return wim;
  const registry = parseRegistrySpec(text, prefix);
  if (registry) return registry;
  throw new UsageError(
    `${escapeControls(text)}: unknown source transport ${escapeControls(JSON.stringify(prefix))}`,
    {
      hint: "use oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF]",
    },
  );
}

/**
 * `wim:PATH`, `wim:URL`, a bare path ending in `.wim` (or `.swm`, to name a split set's missing
 * parts), or an http(s) URL whose path ends in `.wim`.
 */
function parseWimSpec(text: string, prefix: string): SourceSpec | undefined {
  if (prefix === "wim") {
    const location = text.slice("wim:".length);
    if (!location)
      throw new UsageError(`${escapeControls(text)}: the wim source needs a path or URL`);
    return { transport: "wim", location };
  }
  if (isHttpUrl(text)) {
    let pathname = "";
    try {
      pathname = new URL(text).pathname;
    } catch {
      throw new UsageError(`${text}: not a valid URL`);
    }
    return /\.wim$/i.test(pathname) ? { transport: "wim", location: text } : undefined;
  }
  return /\.(wim|swm)$/i.test(text) ? { transport: "wim", location: text } : undefined;
}

/**
 * `docker://REF`, or a bare image reference (`alpine:3.19`, `host:5000/team/app@sha256:...`).
 * A malformed `docker://` reference, or a bare word that is no reference, fails with EBADREF.
 */
function parseRegistrySpec(text: string, prefix: string): SourceSpec | undefined {
  if (text.startsWith("docker://")) {
    const ref = text.slice("docker://".length);
    parseReference(ref);
    return { transport: "docker", ref };
  }
  try {
    parseReference(text);
  } catch (error) {
    if (prefix === "") throw error;
    return undefined;
  }
  return { transport: "docker", ref: text };
}

export interface OpenSourceOptions {
  /** Where downloads are kept while saving (the bundle's folder: same disk, room for it). */
  tempDir?: string;
  /** Timeouts and speed floor of WIM downloads (the registry flags). */
  wimDownload?: WimDownloadLimits;
  /** Proxies and extra CAs of WIM downloads (the registry flags and the environment). */
  wimNetwork?: WimNetwork;
  /** The registry session (clients, download cache) for `docker://` and bare references. */
  registry?: { session: RegistrySession; skipForeign?: boolean };
}

/** Open a parsed source. */
export async function openSource(
  spec: SourceSpec,
  options: OpenSourceOptions = {},
): Promise<Source> {
  // Each transport is imported when a source needs it: a save from an OCI folder does not pay
  // for the tar reader, the WIM reader or the registry client (tens of ms each at start-up).
  switch (spec.transport) {
    case "docker": {
      if (!options.registry)
        throw new UsageError(`${spec.ref}: registry sources need a registry session`);
      const { RegistrySource } = await import("../transports/registry/source.js");
      return new RegistrySource(options.registry.session, spec.ref, {
        skipForeign: options.registry.skipForeign ?? false,
      });
    }
    case "wim": {
      const { WimSource } = await import("../transports/wim/source.js");
      return WimSource.open(spec.location, {
        ...(spec.sha256 ? { sha256: spec.sha256 } : {}),
        ...(options.tempDir ? { tempDir: options.tempDir } : {}),
        ...(options.wimDownload ? { limits: options.wimDownload } : {}),
        ...(options.wimNetwork ? { network: options.wimNetwork } : {}),
      });
    }
    case "oci": {
      const info = await stat(spec.path).catch(() => undefined);
      if (!info?.isDirectory()) throw new UsageError(`oci:${spec.path}: no such directory`);
      const [{ DirectoryFiles }, { localRepositoryName }, { LayoutSource }] = await Promise.all([
        import("../transports/layout/layout-files.js"),
        import("../transports/layout/local-name.js"),
        import("../transports/layout/source.js"),
      ]);
      return LayoutSource.open(new DirectoryFiles(path.resolve(spec.path)), {
        transport: `oci:${spec.path}`,
        fallbackRepository: localRepositoryName(path.basename(path.resolve(spec.path))),
        ...(spec.ref ? { refName: spec.ref } : {}),
      });
    }
    case "oci-archive": {
      const { openOciArchive } = await import("../transports/oci-archive/source.js");
      return openOciArchive(spec.path, spec.ref);
    }
    case "docker-archive": {
      const { DockerArchiveSource } = await import("../transports/docker-archive/source.js");
      return DockerArchiveSource.open(spec.path, spec.ref);
    }
  }
}

/** Resolve a local source's relative path against a folder (an image list's own folder). */
export function resolveSpecPath(spec: SourceSpec, baseDir: string): SourceSpec {
  if (
    spec.transport === "oci" ||
    spec.transport === "oci-archive" ||
    spec.transport === "docker-archive"
  ) {
    return { ...spec, path: path.resolve(baseDir, spec.path) };
  }
  if (spec.transport === "wim" && !/^https?:\/\//i.test(spec.location)) {
    return { ...spec, location: path.resolve(baseDir, spec.location) };
  }
  return spec;
}
