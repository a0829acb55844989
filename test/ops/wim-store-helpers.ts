/**
 * Build stores for rmi / gc / naming tests without bundles: container images written as an
 * OCI layout (test/helpers/oci-layout.ts), OS images installed from real WIMs through the
 * engine exactly as `load` installs them (WimSource -> StoreSink with load's OS-image options).
 */

import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { copyImages } from "../../src/engine/copy.js";
import { planImage } from "../../src/engine/plan.js";
import { osImageLoad } from "../../src/ops/wim-load.js";
import { StoreSink } from "../../src/transports/layout/sink.js";
import { Store } from "../../src/transports/layout/store.js";
import { WimSource } from "../../src/transports/wim/source.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { captureWindows, wimAppend } from "../helpers/wimtools.js";

/** A real WIM whose image 1 is `name` at `version` (amd64), with a UtilityVM image 2. */
export async function makeOsWim(
  dir: string,
  tree: string,
  name: string,
  version: string,
): Promise<string> {
  const file = join(dir, `${name}-${version}.wim`);
  await captureWindows(tree, file, name, version);
  await wimAppend(tree, file, "UtilityVM");
  return file;
}

/** Install a WIM into a store the way `ferry load` does (names, annotations, latest). */
export async function installWim(storeDir: string, wim: string, latest = true) {
  const store = await Store.open(storeDir, { create: true });
  const source = await WimSource.open(wim);
  try {
    const plans = [];
    for (const image of await source.images()) {
      plans.push(await planImage(source, image, { platforms: "all" }));
    }
    const load = osImageLoad(plans, { latest });
    const sink = new StoreSink(store, load.sinkOptions);
    await copyImages(sink, plans);
    return { facts: source.facts, latestMoved: load.latestMoved(sink.tagChanges) };
  } finally {
    await source.close();
  }
}

/**
 * A store with container images: app:1 and app:2 share a base layer; win:1 is a Windows image
 * on 10.0.20348.2113; prov:1 names nanoserver:10.0.14300.1010 as its base (OCI annotation).
 */
export function containerStore(dir: string): void {
  const layout = createLayout(dir);
  const base = randomLayer(4096);
  layout.tag("test.example/app:1", layout.image({ layers: [base, randomLayer(1000)] }));
  layout.tag("test.example/app:2", layout.image({ layers: [base, randomLayer(1000)] }));
  layout.tag(
    "test.example/win:1",
    layout.image({
      layers: [randomLayer(500)],
      platform: { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2113" },
    }),
  );
  const plain = layout.image({ layers: [randomLayer(300)] });
  const manifest = JSON.parse(
    readFileSync(join(dir, "blobs", "sha256", plain.digest.slice(7)), "utf8"),
  );
  manifest.annotations = { "org.opencontainers.image.base.name": "nanoserver:10.0.14300.1010" };
  const prov = layout.blob(Buffer.from(JSON.stringify(manifest)));
  rmSync(join(dir, "blobs", "sha256", plain.digest.slice(7))); // only the annotated one is named
  layout.tag("test.example/prov:1", {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...prov,
  });
  layout.finish();
}
