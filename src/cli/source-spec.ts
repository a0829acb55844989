import { stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.js";
import { DockerArchiveSource } from "../transports/docker-archive/source.js";
import { DirectoryFiles } from "../transports/layout/layout-files.js";
import { localRepositoryName } from "../transports/layout/local-name.js";
import { LayoutSource } from "../transports/layout/source.js";
import { openOciArchive } from "../transports/oci-archive/source.js";
import type { Source } from "../types/transport.js";

export type SourceSpec =
  | { transport: "oci"; path: string; ref?: string }
  | { transport: "oci-archive"; path: string; ref?: string }
  | { transport: "docker-archive"; path: string; ref?: string };

const TRANSPORTS = ["oci", "oci-archive", "docker-archive"] as const;

/** Split `PATH[:REF]` the way skopeo does on Unix: the path ends at the first colon. */
function splitPathAndRef(rest: string): { path: string; ref?: string } {
  const colon = rest.indexOf(":");
  if (colon < 0) return { path: rest };
  const ref = rest.slice(colon + 1);
  return ref ? { path: rest.slice(0, colon), ref } : { path: rest.slice(0, colon) };
}

/**
 * Parse a source argument: `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
 * `docker-archive:FILE[:REF]`.
 */
export function parseSourceSpec(text: string): SourceSpec {
  const colon = text.indexOf(":");
  const prefix = colon > 0 ? text.slice(0, colon) : "";
  if ((TRANSPORTS as readonly string[]).includes(prefix)) {
    const { path: where, ref } = splitPathAndRef(text.slice(colon + 1));
    if (!where) throw new UsageError(`${text}: the ${prefix} source needs a path`);
    return { transport: prefix as SourceSpec["transport"], path: where, ...(ref ? { ref } : {}) };
  }
  if (text.startsWith("docker://") || prefix === "") {
    throw new UsageError(`${text}: registry sources are not supported yet`, {
      hint: "use oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF]",
    });
  }
  throw new UsageError(`${text}: unknown source transport ${JSON.stringify(prefix)}`, {
    hint: "use oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF]",
  });
}

/** Open a parsed source. */
export async function openSource(spec: SourceSpec): Promise<Source> {
  switch (spec.transport) {
    case "oci": {
      const info = await stat(spec.path).catch(() => undefined);
      if (!info?.isDirectory()) throw new UsageError(`oci:${spec.path}: no such directory`);
      return LayoutSource.open(new DirectoryFiles(path.resolve(spec.path)), {
        transport: `oci:${spec.path}`,
        fallbackRepository: localRepositoryName(path.basename(path.resolve(spec.path))),
        ...(spec.ref ? { refName: spec.ref } : {}),
      });
    }
    case "oci-archive":
      return openOciArchive(spec.path, spec.ref);
    case "docker-archive":
      return DockerArchiveSource.open(spec.path, spec.ref);
  }
}
