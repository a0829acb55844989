/**
 * `ferry load BUNDLE --dry-run`: everything a load checks, and what it would change, with
 * nothing written — no staging folder, no log line, not even an empty store where none is.
 */

import path from "node:path";
import type { Readable } from "node:stream";
import type { CopyEvent } from "../engine/copy.js";
import { DiscardSink } from "../transports/discard.js";
import { emptyIndex, upsertRef } from "../transports/layout/index-file.js";
import type { StoreSinkOptions, TagChange } from "../transports/layout/sink.js";
import { Store } from "../transports/layout/store.js";
import type { TrustedKey } from "../trust/keys.js";
import type { Descriptor } from "../types/descriptor.js";
import type { ImageIndex } from "../types/manifest.js";
import type { BlobWriter, ImageRecord, Sink } from "../types/transport.js";
import type { CosignPolicy } from "./cosign-check.js";
import { type LoadReport, loadedFigures } from "./load.js";
import { namesOf, storeRollbackGuard } from "./rollback.js";
import { copyPlans, planImages, withBundle } from "./transfer.js";
import { osImageLoad } from "./wim-load.js";

export interface DryRunLoadOptions {
  storeDir: string;
  onEvent?: (event: CopyEvent) => void;
  jobs?: number;
  trust?: TrustedKey[];
  /** As the load: the cosign gate on the plans. */
  cosign?: CosignPolicy;
  latest?: boolean;
  /** As the load: judge an older bundle as allowed (its names reported `downgraded`). */
  allowDowngrade?: boolean;
  /** As the load: a folder of rebuilt split volumes. */
  partsFrom?: string;
}

/**
 * The load's verification without its writes: the store's answer to "do you have this blob?"
 * decides what is read and hashed (what the load would write), and every byte is dropped.
 */
class PreviewSink implements Sink {
  readonly label: string;
  private readonly discard = new DiscardSink();
  readonly maxConcurrentBlobs = this.discard.maxConcurrentBlobs;

  constructor(private readonly store: Store | undefined) {
    this.label = store ? `store ${store.dir}` : "an empty store";
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.store ? this.store.hasBlob(descriptor) : false;
  }

  putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    return this.discard.putBlob(descriptor, stream);
  }

  blobWriter(descriptor: Descriptor): Promise<BlobWriter> {
    return this.discard.blobWriter(descriptor);
  }

  async putManifest(): Promise<void> {}
  addImage(): void {}
  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

/** The names the load's commit would move, worked out on a copy of index.json. */
function namesMoved(
  index: ImageIndex,
  records: ImageRecord[],
  options: Omit<StoreSinkOptions, "logEntry">,
): TagChange[] {
  let next = index;
  const changes: TagChange[] = [];
  const name = ({ ref, record }: { ref: string; record: ImageRecord }) => {
    const annotations = options.indexAnnotations?.(record) ?? {};
    const upserted = upsertRef(next, ref, record.descriptor, annotations);
    next = upserted.index;
    if (upserted.previous?.digest !== record.descriptor.digest) {
      const change: TagChange = { ref, to: record.descriptor.digest };
      if (upserted.previous) change.from = upserted.previous.digest;
      changes.push(change);
    }
  };
  for (const record of records) name({ ref: record.name, record });
  for (const extra of options.extraTags?.(records, next) ?? []) name(extra);
  return changes;
}

/**
 * What `loadBundle` would do: the bundle opened and checked the same way (structure, trust),
 * every image planned, every blob the store lacks read and hashed (a delta whose base is
 * missing fails as the load would), and the report a load gives, with `dryRun: true`.
 */
export async function dryRunLoad(bundle: string, options: DryRunLoadOptions): Promise<LoadReport> {
  const started = Date.now();
  return withBundle(bundle, options, async ({ reader, manifest, source, gate }) => {
    // Opened only when it exists: a dry run must not create one.
    const store = (await Store.exists(options.storeDir))
      ? await Store.open(options.storeDir)
      : undefined;
    const index = store ? await store.readIndex() : emptyIndex();
    const before = namesOf(index);
    // Anti-rollback judged as the load judges it (EDOWNGRADE unless allowed); nothing recorded.
    const rollback = store
      ? storeRollbackGuard(store, reader, bundle, options.allowDowngrade === true)
      : undefined;
    await rollback?.check(before);
    const plans = await planImages([{ source, platforms: "all" }]);
    await gate(plans);
    const wim = osImageLoad(plans, { latest: options.latest !== false });
    const result = await copyPlans(new PreviewSink(store), plans, options);
    const tagsMoved = namesMoved(index, result.images, wim.sinkOptions);
    return {
      bundle,
      bundleId: manifest.id,
      store: store?.dir ?? path.resolve(options.storeDir),
      dryRun: true,
      ...loadedFigures(result, before, rollback?.downgraded),
      tagsMoved,
      osImages: wim.osImages(),
      latestMoved: wim.latestMoved(tagsMoved),
      seconds: (Date.now() - started) / 1000,
    };
  });
}
