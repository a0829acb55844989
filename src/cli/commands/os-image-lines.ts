/**
 * How Windows base OS images are printed by several commands (save, inspect, load, images).
 * Imported by their `.run.ts` modules only: it needs the WIM transport's naming rules.
 */

import type { StoredImage } from "../../ops/images.js";
import type { LatestMove, LoadedOsImage } from "../../ops/wim-load.js";
import { shortOsImageName, wimImageRole } from "../../transports/wim/artifact.js";
import type { BundleOsImage } from "../../types/bundle.js";
import { shortDigest } from "../../types/digest.js";
import { escapeControls, formatSize, formatTable } from "../output.js";

/** Lines describing OS images (save and inspect summaries). */
export function osImageLines(osImages: BundleOsImage[] | undefined): string[] {
  if (!osImages || osImages.length === 0) return [];
  return [
    "",
    formatTable(
      ["OS IMAGE", "VERSION", "ARCH", "FULL NAME", "WIM IMAGES", "SIZE"],
      osImages.map((o) => [
        `${shortOsImageName(o.ref).split(":")[0]}`,
        o.version,
        o.architecture,
        o.fullName,
        o.images.map((name, i) => `${i + 1}: ${name || "?"} (${wimImageRole(i + 1)})`).join(", "),
        formatSize(o.size),
      ]),
    ),
  ];
}

/** What `ferry load` says about OS images: each one installed, and every `latest` that moved. */
export function loadedOsImageLines(report: {
  osImages: LoadedOsImage[];
  latestMoved: LatestMove[];
}): string[] {
  if (report.osImages.length === 0) return [];
  const lines = [
    "",
    ...report.osImages.map(
      (o) =>
        `OS image ${escapeControls(shortOsImageName(o.ref))}: ${escapeControls(o.fullName)}, windows/${escapeControls(o.architecture)}, ${o.imageCount} WIM image(s): ${o.images.map((name, i) => `${i + 1} ${escapeControls(name || "?")} (${wimImageRole(i + 1)})`).join(", ")}`,
    ),
  ];
  for (const move of report.latestMoved) {
    const from = move.fromVersion
      ? ` (was ${move.fromVersion})`
      : move.from
        ? " (was another image)"
        : " (new)";
    lines.push(
      `tag ${escapeControls(shortOsImageName(move.ref))} -> ${escapeControls(move.version)}${escapeControls(from)}`,
    );
  }
  return lines;
}

/** The OS image table of `ferry images` (all of `ferry images --os`); empty when there are none. */
export function osImagesTable(images: StoredImage[], fullDigests: boolean): string {
  const rows = images.filter((i) => i.kind === "os-image");
  if (rows.length === 0) return "";
  return formatTable(
    ["OS IMAGE", "TAG", "KIND", "VERSION", "ARCH", "FULL NAME", "DIGEST", "SIZE"],
    rows.map((i) => [
      i.repository,
      i.tag,
      i.kind,
      i.os?.version ?? "-",
      i.os?.architecture ?? "-",
      i.os?.fullName ?? (i.error ? `DAMAGED: ${i.error}` : "-"),
      fullDigests ? i.digest : shortDigest(i.digest),
      formatSize(i.size),
    ]),
  );
}
