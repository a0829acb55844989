/** `oci-archive:FILE[:REF]` in the transport table: a tar of an OCI image layout. */

import type { TransportEntry } from "../entry.js";
import { type LocalSpec, localSourceRole } from "../local-spec.js";

export type OciArchiveSpec = LocalSpec<"oci-archive">;

export const ociArchiveTransport: TransportEntry<OciArchiveSpec, never> = {
  name: "oci-archive",
  summary: "a tar of an OCI image layout (skopeo's, buildah's oci-archive: output), read in place",
  source: localSourceRole("oci-archive", "oci-archive:FILE[:REF]", async (spec) => {
    const { openOciArchive } = await import("./source.js");
    return openOciArchive(spec.path, spec.ref);
  }),
};
