/**
 * A real browser for the tests: headless Chromium (Debian `chromium`) renders a page to its DOM
 * or to a PDF, and poppler's `pdftotext` reads the PDF's text back.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { commandRuns } from "./installed.js";

/** Why the browser tests cannot run here (undefined: they can, and always in CI). */
export function browserSkipReason(): string | undefined {
  if (process.env.CI === "true") return undefined;
  for (const [binary, args] of [
    ["chromium", ["--version"]],
    ["pdftotext", ["-v"]],
  ] as const) {
    if (!commandRuns(binary, [...args])) {
      return `${binary} is not installed (scripts/setup.sh installs chromium and poppler-utils)`;
    }
  }
  return undefined;
}

/** Run headless Chromium on a local file with `args`; its stdout. */
function chromium(file: string, args: string[]): string {
  const profile = mkdtempSync(path.join(tmpdir(), "ferry-chromium-"));
  try {
    const result = spawnSync(
      "chromium",
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        `--user-data-dir=${profile}`,
        ...args,
        pathToFileURL(file).href,
      ],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    if (result.status !== 0) {
      throw new Error(`chromium exited ${result.status}: ${result.stderr}`);
    }
    return result.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM Chromium built from the page, serialized. */
export function renderedDom(file: string): string {
  return chromium(file, ["--dump-dom"]);
}

/** The page printed to PDF by Chromium, then read back as text by pdftotext. */
export function printedText(file: string): { pdf: Buffer; text: string } {
  const pdfFile = `${file}.pdf`;
  chromium(file, ["--no-pdf-header-footer", `--print-to-pdf=${pdfFile}`]);
  const pdf = readFileSync(pdfFile);
  const result = spawnSync("pdftotext", [pdfFile, "-"], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`pdftotext exited ${result.status}: ${result.stderr}`);
  return { pdf, text: result.stdout };
}
