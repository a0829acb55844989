import { readdir } from "node:fs/promises";
import path from "node:path";
import { refNameOf } from "../transports/layout/index-file.js";
import { Store } from "../transports/layout/store.js";
import { isSha256Hex } from "../types/digest.js";
import { HAVE_SCHEMA, type HaveList } from "../types/have.js";

/** List what a store holds (every complete blob and every name), for delta saves. */
export async function haveList(storeDir: string, tool: string): Promise<HaveList> {
  const store = await Store.open(storeDir);
  const names = await readdir(path.join(store.dir, "blobs", "sha256"));
  const index = await store.readIndex();
  return {
    schema: HAVE_SCHEMA,
    storeId: await store.id(),
    created: new Date().toISOString(),
    tool,
    blobs: names
      .filter(isSha256Hex)
      .sort()
      .map((hex) => `sha256:${hex}` as const),
    images: index.manifests.flatMap((d) => {
      const ref = refNameOf(d);
      return ref ? [{ ref, digest: d.digest }] : [];
    }),
  };
}
