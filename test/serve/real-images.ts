/**
 * Images a container engine accepts: gzip-compressed tar layers whose config lists the right
 * diff_ids, written into an OCI layout (test/helpers/oci-layout.ts) under full names. dockerd
 * and containerd unpack what they pull, so the layers must be real.
 */

import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { type LayoutBuilder, sha256 } from "../helpers/oci-layout.js";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

/** A tar of the given files (path -> text), deterministic. */
export async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const [name, text] of Object.entries(files)) {
    pack.entry({ name, mode: 0o644, mtime: new Date("2026-01-01T00:00:00Z") }, text);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface RealImageOptions {
  /** One layer per entry: path -> text. */
  layers: Array<Record<string, string>>;
  platform?: { os: string; architecture: string; variant?: string };
  /** Labels in the config, to tell images apart. */
  labels?: Record<string, string>;
  /** Docker's schema 2 media types instead of OCI's (what docker push writes). */
  docker?: boolean;
}

const TYPES = {
  oci: {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar+gzip",
  },
  docker: {
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  },
};

/** Write a real image's blobs; returns its manifest descriptor (and its blobs' digests). */
export async function realImage(
  layout: LayoutBuilder,
  options: RealImageOptions,
): Promise<Descriptor & { blobs: string[] }> {
  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const types = options.docker ? TYPES.docker : TYPES.oci;
  const tars = await Promise.all(options.layers.map((files) => tarOf(files)));
  const layers = tars.map((bytes) => ({
    mediaType: types.layer,
    ...layout.blob(gzipSync(bytes)),
  }));
  const config = Buffer.from(
    JSON.stringify({
      created: "2026-01-01T00:00:00Z",
      ...platform,
      config: { Labels: options.labels ?? {}, Cmd: ["/bin/true"] },
      rootfs: { type: "layers", diff_ids: tars.map((t) => `sha256:${sha256(t)}`) },
      history: tars.map(() => ({ created: "2026-01-01T00:00:00Z", created_by: "test" })),
    }),
  );
  const configDescriptor = {
    mediaType: types.config,
    ...layout.blob(config),
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: configDescriptor,
      layers,
    }),
  );
  return {
    mediaType: types.manifest,
    ...layout.blob(manifest),
    platform,
    blobs: [configDescriptor.digest, ...layers.map((l) => l.digest)],
  };
}

/**
 * An artifact that refers to `subject` (OCI 1.1): an SBOM-like manifest with the empty config
 * and one JSON layer.
 */
export function referrer(
  layout: LayoutBuilder,
  subject: Descriptor,
  artifactType: string,
  text: string,
): Descriptor {
  const empty = layout.blob(Buffer.from("{}"));
  const layer = layout.blob(Buffer.from(text));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType,
      config: { mediaType: "application/vnd.oci.empty.v1+json", ...empty },
      layers: [{ mediaType: "application/json", ...layer }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
    }),
  );
  return { mediaType: "application/vnd.oci.image.manifest.v1+json", ...layout.blob(manifest) };
}

/** A Docker manifest list of `children` (schema 2 images with their platforms). */
export function dockerManifestList(
  layout: LayoutBuilder,
  children: Array<Descriptor & { platform: NonNullable<Descriptor["platform"]> }>,
): Descriptor {
  const mediaType = "application/vnd.docker.distribution.manifest.list.v2+json";
  const list = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: children.map((c) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.size,
        platform: c.platform,
      })),
    }),
  );
  return { mediaType, ...layout.blob(list) };
}
