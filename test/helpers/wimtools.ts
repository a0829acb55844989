/**
 * Build real WIM files for tests with Debian `wimtools` (wimcapture, wimappend,
 * wiminfo, wimsplit) and read back what `wiminfo` prints about them.
 */

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { commandRuns } from "./installed.js";

const run = promisify(execFile);

/** Compression names as `wimcapture --compress=` takes them. */
export type WimtoolsCompression = "none" | "XPRESS" | "LZX" | "LZMS";

/** True when the wimtools commands are on PATH. */
export const hasWimtools: boolean = commandRuns("wiminfo", ["--version"]);

/** A fresh temporary folder; remove it with `removeTempDir`. */
export async function makeTempDir(prefix = "ferry-wim-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Remove a folder made by `makeTempDir`. */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Deterministic, distinct bytes per seed (distinct so wimlib does not deduplicate them). */
function fillerBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = (seed + 1) * 2654435761;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/**
 * Create a tiny directory tree to capture: a text file plus `fileCount` files of
 * `fileBytes` distinct bytes each under Windows/System32.
 */
export async function makeSourceTree(
  dir: string,
  options: { fileCount?: number; fileBytes?: number } = {},
): Promise<string> {
  const system32 = join(dir, "Windows", "System32");
  await mkdir(system32, { recursive: true });
  await writeFile(join(dir, "readme.txt"), "a tiny tree for ferry's WIM tests\n");
  for (let i = 0; i < (options.fileCount ?? 1); i++) {
    await writeFile(join(system32, `file${i}.bin`), fillerBytes(options.fileBytes ?? 2000, i));
  }
  return dir;
}

/** Options of `wimCapture`. */
export interface CaptureOptions {
  compress?: WimtoolsCompression;
  /** Write an integrity table (`--check`). */
  check?: boolean;
  /** Pack file data into solid resources (`--solid`). */
  solid?: boolean;
  description?: string;
}

function captureFlags(options: CaptureOptions): string[] {
  return [
    `--compress=${options.compress ?? "none"}`,
    ...(options.check ? ["--check"] : []),
    ...(options.solid ? ["--solid"] : []),
  ];
}

/** `wimcapture SOURCE WIM NAME [DESCRIPTION] --compress=... [--check] [--solid]`. */
export async function wimCapture(
  source: string,
  wim: string,
  name: string,
  options: CaptureOptions = {},
): Promise<string> {
  const positional = [source, wim, name, ...(options.description ? [options.description] : [])];
  await run("wimcapture", [...positional, ...captureFlags(options)]);
  return wim;
}

/** `wimappend SOURCE WIM NAME [DESCRIPTION] [--check]`: add another image. */
export async function wimAppend(
  source: string,
  wim: string,
  name: string,
  options: { description?: string; check?: boolean } = {},
): Promise<void> {
  const positional = [source, wim, name, ...(options.description ? [options.description] : [])];
  await run("wimappend", [...positional, ...(options.check ? ["--check"] : [])]);
}

/**
 * Set XML properties of one image: `wiminfo WIM INDEX --image-property PATH=VALUE ...`.
 * Paths are slash-separated element names (`WINDOWS/VERSION/MAJOR`); wimlib creates
 * missing parent elements (WINDOWS, VERSION) by itself.
 */
export async function setImageProperties(
  wim: string,
  index: number,
  properties: Record<string, string>,
  options: { check?: boolean } = {},
): Promise<void> {
  const flags = Object.entries(properties).flatMap(([path, value]) => [
    "--image-property",
    `${path}=${value}`,
  ]);
  await run("wiminfo", [wim, String(index), ...flags, ...(options.check ? ["--check"] : [])]);
}

/**
 * The XML properties that make an image a Windows of `version` (`10.0.20348.2113`: major,
 * minor, build, service-pack build) on `arch` (wimlib's number: 9 is amd64, 12 arm64).
 */
export function windowsVersion(version: string, arch = "9"): Record<string, string> {
  const [major, minor, build, spbuild] = version.split(".");
  if (spbuild === undefined) throw new Error(`${version}: expected four dotted numbers`);
  return {
    "WINDOWS/VERSION/MAJOR": major as string,
    "WINDOWS/VERSION/MINOR": minor as string,
    "WINDOWS/VERSION/BUILD": build as string,
    "WINDOWS/VERSION/SPBUILD": spbuild,
    "WINDOWS/ARCH": arch,
  };
}

/** `wimCapture`, then make image 1 a Windows of `version` on amd64 (see `windowsVersion`). */
export async function captureWindows(
  source: string,
  wim: string,
  name: string,
  version: string,
  options: CaptureOptions = {},
): Promise<string> {
  await wimCapture(source, wim, name, options);
  await setImageProperties(wim, 1, windowsVersion(version), { check: options.check });
  return wim;
}

/**
 * `wimsplit WIM PART1 SIZE_MB`: split into parts of at most `partSizeMb` megabytes
 * (fractions allowed). Parts are named PART1, then PART1's stem + 2, 3 ... + extension.
 */
export async function wimSplit(wim: string, firstPart: string, partSizeMb: number): Promise<void> {
  await run("wimsplit", [wim, firstPart, String(partSizeMb)]);
}

/** Parse `Key: value` or `Key = value` lines into a record (first occurrence wins). */
export function parseKeyValueLines(text: string, separator: ":" | "="): Record<string, string> {
  const record: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(separator);
    if (at <= 0) continue;
    const key = line.slice(0, at).trim();
    if (key !== "" && !(key in record)) record[key] = line.slice(at + 1).trim();
  }
  return record;
}

/** What `wiminfo --header WIM` prints, as "Field" → "value" (e.g. "Part Number" → "1"). */
export async function wiminfoHeader(wim: string): Promise<Record<string, string>> {
  const { stdout } = await run("wiminfo", ["--header", wim]);
  return parseKeyValueLines(stdout, "=");
}

/** What plain `wiminfo WIM` prints: the WIM section and one record per image. */
export interface WiminfoReport {
  wim: Record<string, string>;
  images: Record<string, string>[];
}

/** Run `wiminfo WIM` and parse its sections. */
export async function wiminfo(wim: string): Promise<WiminfoReport> {
  const { stdout } = await run("wiminfo", [wim]);
  const [wimSection = "", imagesSection = ""] = stdout.split("Available Images:");
  const images = imagesSection
    .split(/\n\s*\n/)
    .filter((block) => block.includes("Index:"))
    .map((block) => parseKeyValueLines(block, ":"));
  return { wim: parseKeyValueLines(wimSection, ":"), images };
}

/** The raw XML data of a WIM (UTF-16LE with BOM), as `wiminfo --extract-xml` writes it. */
export async function wiminfoXml(wim: string, scratchDir: string): Promise<Buffer> {
  const out = join(scratchDir, `xml-${Date.now()}-${Math.random().toString(16).slice(2)}.xml`);
  await run("wiminfo", [wim, "--extract-xml", out]);
  return readFile(out);
}
