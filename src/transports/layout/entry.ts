/**
 * The OCI image layout in the transport table: `oci:DIR[:REF]` as a source, and ferry's store
 * (an OCI layout with a lock, staging and a load log) as the destination `store[:DIR]`.
 */

import { stat } from "node:fs/promises";
import path from "node:path";
import { NotFoundError, UsageError } from "../../errors.js";
import type { TransportEntry } from "../entry.js";
import { type LocalSpec, localSourceRole } from "../local-spec.js";

export type OciSpec = LocalSpec<"oci">;

export interface StoreDestination {
  transport: "store";
  /** The store's folder; none: the default store ($FERRY_STORE or the per-OS default). */
  dir?: string;
}

export const ociTransport: TransportEntry<OciSpec, never> = {
  name: "oci",
  summary: "an OCI image layout folder (skopeo's, umoci's, buildah's oci: output)",
  source: localSourceRole("oci", "oci:DIR[:REF]", async (spec) => {
    const info = await stat(spec.path).catch(() => undefined);
    // A missing folder is ENOTFOUND (exit 4), as a missing archive file is; a file is misnamed.
    if (!info) throw new NotFoundError(`oci:${spec.path}: no such directory`);
    if (!info.isDirectory()) {
      throw new UsageError(`oci:${spec.path}: not a directory`, {
        hint: `a tar of a layout is oci-archive:${spec.path}; a docker save tar is docker-archive:${spec.path}`,
      });
    }
    const [{ DirectoryFiles }, { localRepositoryName }, { LayoutSource }] = await Promise.all([
      import("./layout-files.js"),
      import("./local-name.js"),
      import("./source.js"),
    ]);
    return LayoutSource.open(new DirectoryFiles(path.resolve(spec.path)), {
      transport: `oci:${spec.path}`,
      fallbackRepository: localRepositoryName(path.basename(path.resolve(spec.path))),
      ...(spec.ref ? { refName: spec.ref } : {}),
    });
  }),
};

export const storeTransport: TransportEntry<never, StoreDestination> = {
  name: "store",
  summary: "ferry's local store: an OCI image layout installed into atomically",
  destination: {
    forms: ["store[:DIR]"],
    help: "the local store (no DIR: $FERRY_STORE or the per-OS default)",
    parse: (rest) => (rest ? { transport: "store", dir: rest } : { transport: "store" }),
  },
};
