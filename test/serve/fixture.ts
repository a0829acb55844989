/**
 * A store for the serve tests, filled the way a user fills one: real images in an OCI layout,
 * `ferry save` into a bundle, `ferry load` into the store. The bundle's digests are what every
 * client must get back.
 */

import { randomBytes } from "node:crypto";
import path from "node:path";
import { ferry, ferryJson } from "../helpers/cli.js";
import { createLayout } from "../helpers/oci-layout.js";
import { type Descriptor, dockerManifestList, realImage, referrer } from "./real-images.js";

export interface ServedStore {
  store: string;
  bundle: string;
  /** Full reference -> manifest (or index) digest, as the bundle records it. */
  digests: Record<string, string>;
  /** The descriptors the test may ask for by digest. */
  alpine: Descriptor & { blobs: string[] };
  appIndex: Descriptor;
  appChildren: Array<Descriptor & { blobs: string[] }>;
  sbom: Descriptor;
  signature: Descriptor;
  /** example.com/team/legacy:2, a Docker manifest list, and its amd64 schema 2 manifest. */
  dockerList: Descriptor;
  dockerChild: Descriptor & { blobs: string[] };
  /** The layer of example.com/big/blob:1: 3 MiB of random bytes (gzip keeps them as they are). */
  bigLayer: string;
}

export const NAMES = {
  alpine: "docker.io/library/alpine:3.19",
  alpineLatest: "docker.io/library/alpine:latest",
  app: "example.com/team/app:1.0",
  nanoserver: "mcr.microsoft.com/windows/nanoserver:ltsc2022",
  tools: "localhost:5000/tools:1",
  big: "example.com/big/blob:1",
  sbom: "docker.io/library/alpine:sbom",
  signature: "docker.io/library/alpine:sbom-signature",
  legacy: "example.com/team/legacy:2",
} as const;

/** Build the images, save them into `dir/b.zip`, load that into `dir/store`. */
export async function servedStore(dir: string): Promise<ServedStore> {
  const layout = createLayout(path.join(dir, "layout"));
  const alpine = await realImage(layout, {
    layers: [{ "etc/os-release": "NAME=alpine-ish\n" }, { "app/hello.txt": "hello\n" }],
    labels: { image: "alpine" },
  });
  layout.tag(NAMES.alpine, alpine);
  layout.tag(NAMES.alpineLatest, alpine);
  const appChildren = [
    await realImage(layout, {
      layers: [{ "app/arch": "amd64\n" }],
      platform: { os: "linux", architecture: "amd64" },
    }),
    await realImage(layout, {
      layers: [{ "app/arch": "arm64\n" }],
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    }),
  ];
  const appIndex = layout.index(appChildren);
  layout.tag(NAMES.app, appIndex);
  layout.tag(
    NAMES.nanoserver,
    await realImage(layout, { layers: [{ "Files/nano.txt": "nano\n" }], labels: { n: "1" } }),
  );
  layout.tag(
    NAMES.tools,
    await realImage(layout, { layers: [{ "bin/tool": "tool\n" }], labels: { t: "1" } }),
  );
  const dockerChild = await realImage(layout, {
    layers: [{ "legacy/amd64": "amd64\n" }],
    labels: { legacy: "amd64" },
    docker: true,
  });
  const dockerArm = await realImage(layout, {
    layers: [{ "legacy/arm64": "arm64\n" }],
    platform: { os: "linux", architecture: "arm64", variant: "v8" },
    docker: true,
  });
  const dockerList = dockerManifestList(layout, [
    { ...dockerChild, platform: { os: "linux", architecture: "amd64" } },
    { ...dockerArm, platform: dockerArm.platform ?? { os: "linux", architecture: "arm64" } },
  ]);
  layout.tag(NAMES.legacy, dockerList);
  const bigLayer = layout.blob(randomBytes(3 * 1024 * 1024));
  const bigConfig = layout.blob(
    Buffer.from(JSON.stringify({ os: "linux", architecture: "amd64" })),
  );
  const bigManifest = layout.blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...bigConfig },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...bigLayer }],
      }),
    ),
  );
  layout.tag(NAMES.big, {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...bigManifest,
  });
  const sbom = referrer(layout, alpine, "application/spdx+json", '{"spdxVersion":"SPDX-2.3"}');
  layout.tag(NAMES.sbom, sbom);
  const signature = referrer(
    layout,
    sbom,
    "application/vnd.dev.cosign.artifact.sig.v1+json",
    "sig",
  );
  layout.tag(NAMES.signature, signature);
  layout.finish();

  const bundle = path.join(dir, "b.zip");
  const store = path.join(dir, "store");
  const saved = ferry(["save", `oci:${layout.dir}`, "-o", bundle, "--platform", "all", "-q"]);
  if (saved.code !== 0) throw new Error(`ferry save failed:\n${saved.stderr}`);
  const loaded = ferry(["load", bundle, "--store", store, "-q"]);
  if (loaded.code !== 0) throw new Error(`ferry load failed:\n${loaded.stderr}`);
  const inspected = ferryJson<{ images: Array<{ ref: string; digest: string }> }>([
    "inspect",
    bundle,
  ]);
  const digests = Object.fromEntries(inspected.json.images.map((i) => [i.ref, i.digest]));
  return {
    store,
    bundle,
    digests,
    alpine,
    appIndex,
    appChildren,
    sbom,
    signature,
    dockerList,
    dockerChild,
    bigLayer: bigLayer.digest,
  };
}
