import type { BundleProblem } from "../errors.js";
import { BundleReader } from "../transports/bundle/reader.js";
import { type BundleImage, type BundleOsImage, osImagesOf } from "../types/bundle.js";

export interface BundleInspection {
  bundle: string;
  id?: string;
  created?: string;
  /** A signed bundle's number in its key's sequence (ferry.json `sequence`). */
  sequence?: number;
  tool?: string;
  images: Array<Omit<BundleImage, "blobs"> & { blobCount: number; carriedBytes: number }>;
  blobs: number;
  bytes: number;
  delta: { requires: number; requiredBytes: number; base: unknown } | null;
  /** Windows base OS images (ferry.json osImages, or derived from os-image entries). */
  osImages: BundleOsImage[];
  problems: BundleProblem[];
  /** Split volumes read in place: how many parts, of what size, and the parity volume. */
  split?: {
    partsFile: string | null;
    parts: number;
    partSize: number | null;
    parity: string | null;
  };
}

/**
 * Describe a bundle from its central directory and ferry.json alone: blob bytes are not read
 * (use verify for that). Structural problems are listed, not thrown.
 */
export async function inspectBundle(path: string): Promise<BundleInspection> {
  const reader = await BundleReader.open(path, { collectProblems: true });
  try {
    const manifest = reader.manifest;
    const report: BundleInspection = {
      bundle: path,
      images: [],
      blobs: 0,
      bytes: 0,
      delta: null,
      osImages: [],
      problems: reader.problems,
      ...splitSummary(reader.split),
    };
    if (!manifest) return report;
    const carried = new Map(manifest.blobs.map((b) => [b.digest as string, b.size]));
    report.id = manifest.id;
    report.created = manifest.created;
    if (manifest.sequence !== undefined) report.sequence = manifest.sequence;
    report.tool = manifest.tool;
    report.blobs = manifest.blobs.length;
    report.bytes = manifest.blobs.reduce((sum, b) => sum + b.size, 0);
    report.images = manifest.images.map(({ blobs, ...image }) => ({
      ...image,
      blobCount: blobs.length,
      carriedBytes: blobs.reduce((sum, digest) => sum + (carried.get(digest) ?? 0), 0),
    }));
    report.osImages = manifest.osImages ?? osImagesOf(manifest.images);
    if (manifest.requires.length > 0 || manifest.base) {
      report.delta = {
        requires: manifest.requires.length,
        requiredBytes: manifest.requires.reduce((sum, r) => sum + r.size, 0),
        base: manifest.base,
      };
    }
    return report;
  } finally {
    await reader.close();
  }
}

/** What the reader found of split volumes (its one read of `.parts`). */
function splitSummary(split: BundleReader["split"]): Pick<BundleInspection, "split"> {
  if (!split) return {};
  return {
    split: {
      partsFile: split.partsFile ?? null,
      parts: split.parts.length,
      partSize: split.manifest?.partSize ?? null,
      parity: split.parity?.name ?? null,
    },
  };
}
