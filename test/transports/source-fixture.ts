/**
 * The images every medium of the source conformance suite (./source-conformance.ts) is built
 * from, as an OCI image layout.
 */

import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { sha256Digest } from "../../src/digest/sha256.js";
import { createLayout } from "../helpers/oci-layout.js";

/** An OCI layout holding the fixture images (written by `writeFixtureLayout`). */
export interface FixtureLayout {
  dir: string;
  /** A single-platform image: a layer over 256 KiB (hashed on a worker thread) and a small one. */
  single: string;
  /** A two-platform index whose images share the large layer. */
  multi: string;
}

export const FIXTURE_REPOSITORY = "conformance.test/app";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/**
 * A manifest's bytes as no JSON serializer writes them by default (three-space indent, a
 * trailing newline): a source that parses and re-serializes a manifest serves other bytes,
 * and the suite sees it.
 */
function unusualJson(document: object): Buffer {
  return Buffer.from(`${JSON.stringify(document, null, 3)}\n`);
}

/**
 * Write the fixture layout in `dir`: gzip layers whose configs name the sha256 of their
 * uncompressed bytes (diff_ids), as real images do, so tools that decompress layers (skopeo
 * writing a docker save archive) keep the images valid. Ref names are full references.
 */
export function writeFixtureLayout(dir: string): FixtureLayout {
  const layout = createLayout(dir);
  const rawLarge = randomBytes(320 * 1024);
  const image = (platform: { os: string; architecture: string }, raws: Buffer[]) => {
    const layers = raws.map((raw) => ({
      mediaType: OCI_GZIP_LAYER,
      ...layout.blob(gzipSync(raw, { level: 1 })),
    }));
    const config = layout.blob(
      Buffer.from(
        JSON.stringify({
          created: "2026-01-01T00:00:00Z",
          ...platform,
          config: {},
          rootfs: { type: "layers", diff_ids: raws.map((raw) => sha256Digest(raw)) },
          history: raws.map(() => ({ created: "2026-01-01T00:00:00Z", created_by: "test" })),
        }),
      ),
    );
    const manifest = unusualJson({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...config },
      layers,
    });
    return { mediaType: OCI_MANIFEST, ...layout.blob(manifest) };
  };
  const single = `${FIXTURE_REPOSITORY}:1`;
  const multi = `${FIXTURE_REPOSITORY}:multi`;
  layout.tag(single, image({ os: "linux", architecture: "amd64" }, [rawLarge, randomBytes(3000)]));
  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ];
  const children = platforms.map((platform) => ({
    ...image(platform, [rawLarge, randomBytes(5000)]),
    platform,
  }));
  const index = unusualJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children });
  layout.tag(multi, { mediaType: OCI_INDEX, ...layout.blob(index) });
  layout.finish();
  return { dir, single, multi };
}
