import type { AttachedArtifact } from "../../types/attached.js";
import { formatTable } from "../output.js";

/**
 * The section listing what is attached to each image (`ferry inspect BUNDLE`): kind, how it
 * was found (and cosign's tag), the artifact's digest and type, and what it refers to. Text
 * from the bundle is escaped by the table.
 */
export function attachedLines(
  images: ReadonlyArray<{ ref: string; attached?: AttachedArtifact[] }>,
): string[] {
  const rows = images.flatMap((image) =>
    (image.attached ?? []).map((a) => [
      image.ref,
      a.kind,
      a.tag ? `${a.foundBy} ${a.tag}` : a.foundBy,
      a.digest,
      a.artifactType ?? a.mediaType,
      a.subject,
    ]),
  );
  if (rows.length === 0) return [];
  return [
    "",
    "attached (carried with their images):",
    formatTable(["IMAGE", "KIND", "FOUND BY", "DIGEST", "TYPE", "REFERS TO"], rows),
  ];
}
