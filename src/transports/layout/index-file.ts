import { FerryError } from "../../errors.js";
import { type Descriptor, REF_NAME_ANNOTATION } from "../../types/descriptor.js";
import type { Digest } from "../../types/digest.js";
import { type ImageIndex, parseManifest } from "../../types/manifest.js";
import { MediaType } from "../../types/media-types.js";

/** The `oci-layout` file's contents. */
export const OCI_LAYOUT_FILE = `${JSON.stringify({ imageLayoutVersion: "1.0.0" })}\n`;

export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digest.slice("sha256:".length)}`;
}

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}

/** What to do about a layout whose index.json or oci-layout is damaged. */
const DAMAGED_LAYOUT_HINT =
  "for a ferry store: restore the file from a backup, or load the bundles into a new store (ferry cannot rebuild it); for another layout: write it again with the tool that made it";

function withHint(error: unknown): unknown {
  if (!(error instanceof FerryError) || error.code !== "EBADIMAGE" || error.hint) return error;
  return new FerryError(error.code, error.message, {
    hint: DAMAGED_LAYOUT_HINT,
    details: error.details,
    cause: error,
  });
}

/** Parse a layout's index.json; `where` names the layout in errors. */
export function parseLayoutIndex(bytes: Buffer, where: string): ImageIndex {
  let parsed: ReturnType<typeof parseManifest>;
  try {
    parsed = parseManifest(bytes, MediaType.OciIndex, `${where}/index.json`);
  } catch (error) {
    throw withHint(error);
  }
  if (parsed.kind !== "index") {
    throw new FerryError("EBADIMAGE", `${where}/index.json is not an image index`, {
      hint: DAMAGED_LAYOUT_HINT,
    });
  }
  return parsed.index;
}

export function checkOciLayoutFile(bytes: Buffer | undefined, where: string): void {
  if (bytes === undefined) {
    throw new FerryError(
      "EBADIMAGE",
      `${where} is not an OCI image layout: oci-layout is missing`,
      {
        hint: DAMAGED_LAYOUT_HINT,
      },
    );
  }
  let version: unknown;
  try {
    version = (JSON.parse(bytes.toString("utf8")) as { imageLayoutVersion?: unknown })
      .imageLayoutVersion;
  } catch {
    version = undefined;
  }
  if (typeof version !== "string" || !version.startsWith("1.")) {
    throw new FerryError(
      "EBADIMAGE",
      `${where}/oci-layout does not declare imageLayoutVersion 1.x`,
      {
        hint: DAMAGED_LAYOUT_HINT,
      },
    );
  }
}

export function refNameOf(descriptor: Descriptor): string | undefined {
  return descriptor.annotations?.[REF_NAME_ANNOTATION];
}

/** Point `refName` at `descriptor`, replacing whatever the name pointed at before. */
export function upsertRef(
  index: ImageIndex,
  refName: string,
  descriptor: Descriptor,
  annotations: Record<string, string> = {},
): { index: ImageIndex; previous?: Descriptor } {
  const previous = index.manifests.find((d) => refNameOf(d) === refName);
  const entry: Descriptor = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
    annotations: { ...annotations, [REF_NAME_ANNOTATION]: refName },
  };
  if (descriptor.platform) entry.platform = descriptor.platform;
  if (descriptor.artifactType) entry.artifactType = descriptor.artifactType;
  const manifests = index.manifests.filter((d) => refNameOf(d) !== refName);
  manifests.push(entry);
  manifests.sort((a, b) => (refNameOf(a) ?? "").localeCompare(refNameOf(b) ?? ""));
  const result: { index: ImageIndex; previous?: Descriptor } = { index: { ...index, manifests } };
  if (previous) result.previous = previous;
  return result;
}

export function removeRef(index: ImageIndex, refName: string): ImageIndex {
  return { ...index, manifests: index.manifests.filter((d) => refNameOf(d) !== refName) };
}

export function serializeIndex(index: ImageIndex): Buffer {
  return Buffer.from(`${JSON.stringify(index, null, 2)}\n`);
}
