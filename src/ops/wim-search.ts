/**
 * List the .wim files of a folder or file share with what each says about itself (name,
 * version, architecture, size), like the old catalog listing on a UNC share. Only headers and
 * XML are read: the listing is quick, and nothing in it is verified (saving hashes the file).
 */

import { stat } from "node:fs/promises";
import path from "node:path";
import { osImageRepository } from "../transports/wim/artifact.js";
import { findWimFiles } from "../transports/wim/reader.js";
import { legacyFullName } from "../types/wim.js";

export interface WimSearchRow {
  /** The path relative to the searched folder. */
  file: string;
  /** The full path. */
  path: string;
  size: number;
  /** Image 1's NAME. */
  name?: string;
  version?: string;
  architecture?: string;
  fullName?: string;
  /** How ferry will name it once loaded: `nanoserver:10.0.14300.1010`. */
  ref?: string;
  imageCount?: number;
  images?: string[];
  compression?: string;
  integrityTable?: boolean;
  /** Parts of a split set (listed once, through part 1). */
  parts?: number;
  /** Why the file cannot be saved as it is, when it cannot. */
  problem?: { code: string; message: string };
}

export interface WimSearchReport {
  dir: string;
  files: WimSearchRow[];
}

export async function searchWimFolder(
  dir: string,
  options: { recursive?: boolean } = {},
): Promise<WimSearchReport> {
  const entries = await findWimFiles(dir, { recursive: Boolean(options.recursive) });
  const files = entries.map((entry): WimSearchRow => {
    const row: WimSearchRow = {
      file: path.relative(dir, entry.path) || path.basename(entry.path),
      path: entry.path,
      size: entry.size,
    };
    if (!entry.info) {
      row.problem = { code: entry.error.code, message: entry.error.message };
      return row;
    }
    const info = entry.info;
    const base = info.images.find((image) => image.index === 1);
    if (base?.name) row.name = base.name;
    if (base?.version) row.version = base.version;
    row.architecture = base?.architecture ?? "unknown";
    if (base?.name && base.version) {
      row.fullName = legacyFullName(base.name, base.version);
      row.ref = `${osImageRepository(base.name)}:${base.version}`;
    }
    row.imageCount = info.images.length;
    row.images = info.images.map((image) => image.name ?? "");
    row.compression = info.compression;
    row.integrityTable = info.hasIntegrityTable;
    if (info.totalParts > 1) {
      row.parts = info.totalParts;
      row.size = 0;
      row.problem = {
        code: "EBADWIM",
        message: `split into ${info.totalParts} parts: join them with wimlib-imagex join before saving`,
      };
    } else if (!base?.name || !base.version) {
      row.problem = {
        code: "EBADWIM",
        message: "image 1 has no NAME or WINDOWS/VERSION: not a container base OS image",
      };
    }
    return row;
  });
  // A split set's size is the sum of its parts.
  for (const [i, entry] of entries.entries()) {
    const row = files[i] as WimSearchRow;
    if (row.parts && entry.info) {
      for (const part of entry.info.partPaths) row.size += (await stat(part)).size;
    }
  }
  return { dir, files };
}
