import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Helpers that build real OCI image layouts on disk for tests (random layer bytes). */

export interface BuiltImage {
  ref: string;
  digest: string;
  size: number;
  layers: string[];
  config: string;
}

export interface LayoutBuilder {
  dir: string;
  /** Write a blob, return its descriptor fields. */
  blob(bytes: Buffer): { digest: string; size: number };
  /** An image with given layer bytes; returns its manifest descriptor. */
  image(options: {
    layers: Buffer[];
    platform?: { os: string; architecture: string; variant?: string; "os.version"?: string };
    created?: string;
    /** The layers' media type (default gzip); diff_ids are the layers' own sha256 either way. */
    layerMediaType?: string;
  }): { mediaType: string; digest: string; size: number; config: string; layers: string[] };
  /** Name a manifest or index in index.json. */
  tag(ref: string, descriptor: { mediaType: string; digest: string; size: number }): void;
  index(children: Array<{ mediaType: string; digest: string; size: number; platform?: object }>): {
    mediaType: string;
    digest: string;
    size: number;
  };
  /** Write index.json and oci-layout. */
  finish(): void;
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function createLayout(dir: string): LayoutBuilder {
  mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  const entries: object[] = [];
  const builder: LayoutBuilder = {
    dir,
    blob(bytes) {
      const hex = sha256(bytes);
      writeFileSync(path.join(dir, "blobs", "sha256", hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    },
    image({
      layers,
      platform = { os: "linux", architecture: "amd64" },
      created = "2026-01-01T00:00:00Z",
      layerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip",
    }) {
      const layerDescriptors = layers.map((bytes) => ({
        mediaType: layerMediaType,
        ...builder.blob(bytes),
      }));
      const config = Buffer.from(
        JSON.stringify({
          created,
          ...platform,
          rootfs: { type: "layers", diff_ids: layers.map((l) => `sha256:${sha256(l)}`) },
          history: layers.map(() => ({ created, created_by: "test" })),
        }),
      );
      const configDescriptor = {
        mediaType: "application/vnd.oci.image.config.v1+json",
        ...builder.blob(config),
      };
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: configDescriptor,
          layers: layerDescriptors,
        }),
      );
      return {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...builder.blob(manifest),
        config: configDescriptor.digest,
        layers: layerDescriptors.map((l) => l.digest),
      };
    },
    index(children) {
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: children,
        }),
      );
      return { mediaType: "application/vnd.oci.image.index.v1+json", ...builder.blob(bytes) };
    },
    tag(ref, descriptor) {
      entries.push({
        mediaType: descriptor.mediaType,
        digest: descriptor.digest,
        size: descriptor.size,
        annotations: { "org.opencontainers.image.ref.name": ref },
      });
    },
    finish() {
      writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
      writeFileSync(
        path.join(dir, "index.json"),
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: entries,
        }),
      );
    },
  };
  return builder;
}

/** Random bytes standing in for a compressed layer. */
export function randomLayer(size: number): Buffer {
  return randomBytes(size);
}

/**
 * A layout with three images sharing a base layer, named test.example/app:1..3.
 * Sizes in bytes.
 */
export function threeImageLayout(
  dir: string,
  sizes = { base: 64 * 1024, own: 16 * 1024 },
): LayoutBuilder {
  const layout = createLayout(dir);
  const base = randomLayer(sizes.base);
  for (const n of [1, 2, 3]) {
    const image = layout.image({ layers: [base, randomLayer(sizes.own)] });
    layout.tag(`test.example/app:${n}`, image);
  }
  layout.finish();
  return layout;
}
