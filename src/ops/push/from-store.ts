/**
 * `ferry push REF DEST` and `ferry push --to registry:HOST[/PREFIX] REF...`: images from the
 * local store (read like `ferry export` reads them, without holding the store lock), every blob
 * of them hashed before the first upload, so a damaged store pushes nothing.
 */

import { NotFoundError, UsageError } from "../../errors.js";
import { LayoutSource } from "../../transports/layout/source.js";
import { Store } from "../../transports/layout/store.js";
import type { Reference } from "../../types/reference.js";
import type { RegistryTarget } from "../../types/registry-target.js";
import type { Source } from "../../types/transport.js";
import { mapToRegistry, parseDestination } from "../name-mapping.js";
import { planImages } from "../transfer.js";
import { readStoreEntries, resolveStoreRef, type StoreEntry } from "../wim-refs.js";
import { type PushOptions, pushImages } from "./images.js";
import type { PushItem, PushReport } from "./report.js";

/** What to push from the store: a name as `ferry images` shows it, and maybe where to. */
export interface StorePushRequest {
  ref: string;
  /** A full target reference (`ferry push REF DEST`); else the registry target's mapping. */
  dest?: string;
}

function pickEntries(entries: StoreEntry[], ref: string, where: string, single: boolean) {
  const resolved = resolveStoreRef(entries, ref, where);
  const digests = new Set(resolved.entries.map((e) => e.descriptor.digest));
  if (single && digests.size > 1) {
    throw new UsageError(`${ref} names ${digests.size} different images`, {
      hint: `name one: ${resolved.entries.map((e) => e.ref).join(", ")}`,
    });
  }
  return single ? resolved.entries.slice(0, 1) : resolved.entries;
}

export async function pushFromStore(
  storeDir: string,
  requests: StorePushRequest[],
  target: RegistryTarget | undefined,
  options: PushOptions,
): Promise<PushReport> {
  const store = await Store.open(storeDir);
  // index.json is read once: names are resolved and images pushed from that one read.
  const index = await store.readIndex();
  const entries = await readStoreEntries(store, index);
  const items: PushItem[] = [];
  const sources: Source[] = [];
  try {
    for (const request of requests) {
      const single = request.dest !== undefined;
      for (const entry of pickEntries(entries, request.ref, store.dir, single)) {
        const source = LayoutSource.fromIndex(store.files, index, {
          transport: `store:${store.dir}`,
          fallbackRepository: "localhost/unnamed",
          refName: entry.ref,
        });
        sources.push(source);
        const [plan] = await planImages([{ source, platforms: "all" }]);
        if (!plan) throw new NotFoundError(`no image ${entry.ref} in the store ${store.dir}`);
        let destination: Reference;
        if (request.dest !== undefined) destination = parseDestination(request.dest, plan.name);
        else if (target) destination = mapToRegistry(plan.name, target);
        else {
          throw new UsageError("ferry push needs REF DEST, or --to registry:HOST[/PREFIX] REF...");
        }
        items.push({ plan, target: destination });
      }
    }
    return await pushImages(items, `store:${store.dir}`, options);
  } finally {
    for (const source of sources) await source.close();
  }
}
