import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { fromSystemError, UsageError } from "../errors.js";
import { decodeTextFile } from "../types/text-file.js";

/**
 * An image list for scheduled refreshes (`ferry save -f images.yaml`):
 *
 * ```yaml
 * defaults:
 *   platforms: [linux/amd64]          # optional; per image below overrides
 * images:
 *   - mcr.microsoft.com/windows/nanoserver:ltsc2022
 *   - ref: docker.io/library/alpine:3.19
 *     platforms: [linux/amd64, linux/arm64]
 *   - oci:./layouts/app:1.0
 * files:                              # Windows base OS images
 *   - path: ./NanoServer.wim
 *   - url: https://downloads.example.com/WindowsServerCore.wim
 *     sha256: 0123...
 * ```
 */
export interface ImageListEntry {
  /** A source as on the command line (`docker://...`, `oci:...`, `wim:...`, a bare ref). */
  source: string;
  platforms?: string[];
  sha256?: string;
}

function fail(where: string, message: string): never {
  throw new UsageError(`${where}: ${message}`, {
    hint: "see docs/usb-round-trip.md for the image list format",
  });
}

function stringList(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
  return fail(where, "platforms must be a string or a list of strings");
}

function imageEntry(item: unknown, where: string, defaults: string[] | undefined): ImageListEntry {
  if (typeof item === "string")
    return defaults ? { source: item, platforms: defaults } : { source: item };
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    return fail(where, "must be a reference or a mapping with `ref`");
  }
  const m = item as Record<string, unknown>;
  const unknown = Object.keys(m).filter((k) => !["ref", "platforms"].includes(k));
  if (unknown.length) fail(where, `unknown key(s) ${unknown.join(", ")} (allowed: ref, platforms)`);
  if (typeof m.ref !== "string" || !m.ref) fail(where, "needs `ref`");
  const platforms = stringList(m.platforms, where) ?? defaults;
  return platforms ? { source: m.ref, platforms } : { source: m.ref };
}

function fileEntry(item: unknown, where: string): ImageListEntry {
  if (typeof item === "string") return { source: `wim:${item}` };
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    return fail(where, "must be a path or a mapping with `path` or `url`");
  }
  const m = item as Record<string, unknown>;
  const unknown = Object.keys(m).filter((k) => !["path", "url", "sha256"].includes(k));
  if (unknown.length)
    fail(where, `unknown key(s) ${unknown.join(", ")} (allowed: path, url, sha256)`);
  const location = m.path ?? m.url;
  if (typeof location !== "string" || !location || (m.path && m.url)) {
    fail(where, "needs exactly one of `path` or `url`");
  }
  if (
    m.sha256 !== undefined &&
    !(typeof m.sha256 === "string" && /^[0-9a-f]{64}$/i.test(m.sha256))
  ) {
    fail(where, "sha256 must be 64 hex digits");
  }
  return m.sha256
    ? { source: `wim:${location}`, sha256: (m.sha256 as string).toLowerCase() }
    : { source: `wim:${location}` };
}

/** Parse an image list's text; errors name the file and the entry. */
export function parseImageList(text: string, file: string): ImageListEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    return fail(file, `is not valid YAML (${(error as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    fail(file, "must be a mapping with `images` and/or `files`");
  const m = doc as Record<string, unknown>;
  const unknown = Object.keys(m).filter((k) => !["defaults", "images", "files"].includes(k));
  if (unknown.length)
    fail(file, `unknown key(s) ${unknown.join(", ")} (allowed: defaults, images, files)`);
  const defaultsDoc = (m.defaults ?? {}) as Record<string, unknown>;
  const defaults = stringList(defaultsDoc.platforms, `${file} defaults`);
  const images = m.images ?? [];
  const files = m.files ?? [];
  if (!Array.isArray(images)) fail(file, "`images` must be a list");
  if (!Array.isArray(files)) fail(file, "`files` must be a list");
  const entries = [
    ...(images as unknown[]).map((item, i) => imageEntry(item, `${file} images[${i}]`, defaults)),
    ...(files as unknown[]).map((item, i) => fileEntry(item, `${file} files[${i}]`)),
  ];
  if (entries.length === 0) fail(file, "lists no images or files");
  return entries;
}

export async function readImageList(file: string): Promise<ImageListEntry[]> {
  let text: string;
  try {
    // A BOM or UTF-16 (Notepad, PowerShell) and CRLF line ends are fine.
    text = decodeTextFile(await readFile(file));
  } catch (error) {
    throw fromSystemError(error, file, "reading image list");
  }
  return parseImageList(text, file);
}
