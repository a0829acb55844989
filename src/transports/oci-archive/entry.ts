/** `oci-archive:FILE[:REF]` in the transport table: a tar of an OCI image layout. */

import type { TransportEntry } from "../entry.js";
import { parseLocalSpec, resolveLocalSpec } from "../local-spec.js";

export interface OciArchiveSpec {
  transport: "oci-archive";
  path: string;
  ref?: string;
}

export const ociArchiveTransport: TransportEntry<OciArchiveSpec, never> = {
  name: "oci-archive",
  summary: "a tar of an OCI image layout (skopeo's, buildah's oci-archive: output), read in place",
  source: {
    forms: ["oci-archive:FILE[:REF]"],
    prefixes: ["oci-archive:"],
    parse: (rest, text) => parseLocalSpec("oci-archive", rest, text),
    resolve: resolveLocalSpec,
    platforms: "chosen",
    async open(spec) {
      const { openOciArchive } = await import("./source.js");
      return openOciArchive(spec.path, spec.ref);
    },
  },
};
