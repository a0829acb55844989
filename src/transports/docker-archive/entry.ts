/**
 * `docker-archive:` in the transport table: a `docker save` tarball as a source
 * (`FILE[:REF|@N]`), and a tarball for `docker load` as a destination (`FILE`).
 */

import { UsageError } from "../../errors.js";
import { escapeControls } from "../../types/terminal-text.js";
import { dockerRepoTag } from "../docker-repo-tag.js";
import type { SourceRole, TransportEntry } from "../entry.js";
import { type LocalSpec, localSourceRole } from "../local-spec.js";

/** `ref`: an image reference in the archive, or `@N`: the N-th entry of its manifest.json. */
export type DockerArchiveSpec = LocalSpec<"docker-archive">;

/**
 * The help writes `FILE[:REF|@N]`: `images.tar@1` is the tarball `images.tar`, its image 1, as
 * `images.tar:@1` (skopeo's spelling) is.
 */
function withIndexSuffix(role: SourceRole<DockerArchiveSpec>): SourceRole<DockerArchiveSpec> {
  return {
    ...role,
    parse(rest, text) {
      const spec = role.parse(rest, text);
      const indexed = spec.ref === undefined ? /^(.+)@(\d+)$/.exec(spec.path) : null;
      return indexed ? { ...spec, path: indexed[1] as string, ref: `@${indexed[2]}` } : spec;
    },
  };
}

export interface DockerArchiveDestination {
  transport: "docker-archive";
  /** The tarball to write (the whole text after `docker-archive:`, colons and all). */
  path: string;
}

export const dockerArchiveTransport: TransportEntry<DockerArchiveSpec, DockerArchiveDestination> = {
  name: "docker-archive",
  summary: "a `docker save` tarball (read in place), or one for `docker load` (Docker 25+ layout)",
  source: withIndexSuffix(
    localSourceRole("docker-archive", "docker-archive:FILE[:REF|@N]", async (spec) => {
      const { DockerArchiveSource } = await import("./source.js");
      return DockerArchiveSource.open(spec.path, spec.ref);
    }),
  ),
  destination: {
    forms: ["docker-archive:FILE"],
    help: "a tarball for `docker load` (one platform per image: --platform)",
    parse(rest, text) {
      if (!rest) {
        throw new UsageError(`${escapeControls(text)}: name the tarball to write`, {
          hint: "e.g. --to docker-archive:images.tar",
        });
      }
      return { transport: "docker-archive", path: rest };
    },
    copy: {
      location: (spec) => spec.path,
      onePlatform: "docker load takes one platform",
      containerImagesOnly: true,
      nameOf: dockerRepoTag,
      nameHeading: "DOCKER NAME",
      nextStep: (spec) => `docker load -i ${spec.path}`,
      async openSink(spec) {
        const { DockerArchiveSink } = await import("./sink.js");
        return DockerArchiveSink.create(spec.path);
      },
    },
  },
};
