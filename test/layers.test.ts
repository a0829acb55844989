/**
 * The layers of src/ and what each may import (docs/architecture.md, "Layers"): every value
 * import of every source file, checked against that table. Type-only imports (`import type`)
 * vanish when compiled and are not checked.
 */

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./helpers/cli.js";

const SRC = path.join(repoRoot, "src");

/** The layer of a file under src/: its top folder, `errors`, or `transports/NAME`. */
function layerOf(relative: string): string {
  const parts = relative.split("/");
  if (parts[0] === "transports" && parts.length > 2) return `transports/${parts[1]}`;
  if (parts[0] === "transports") return "transports/(shared)";
  return parts.length === 1 ? (parts[0] as string).replace(/\.ts$/, "") : (parts[0] as string);
}

const TRANSPORTS_MAY = ["types", "errors", "digest", "util", "cache", "trust", "transports"];

/** What each layer may import (values). `transports` stands for every transport folder. */
const MAY_IMPORT: Record<string, string[]> = {
  types: ["errors"],
  errors: ["types"],
  util: ["errors", "types"],
  digest: ["errors", "types", "util"],
  trust: ["errors", "types", "util"],
  cache: ["errors", "types", "util"],
  engine: ["errors", "types", "digest"],
  transports: TRANSPORTS_MAY,
  ops: [...TRANSPORTS_MAY, "engine", "serve"],
  /** `ferry serve`: the store read over HTTP (no copy, so no engine). */
  serve: TRANSPORTS_MAY,
  cli: [...TRANSPORTS_MAY, "ops", "serve"],
  /** src/index.ts, ferry as a library: a few ops and the errors. */
  index: ["errors", "types", "ops"],
};

/** Files of a layer with a narrower rule than their layer's. */
const NARROWER: Array<{ files: RegExp; may: string[]; why: string }> = [
  {
    // The transport table loads on every run of ferry (test/cli/startup.test.ts traces it).
    files:
      /^transports\/(table|entry|local-spec|spec-path|docker-repo-tag|path-argument)\.ts$|^transports\/[^/]+\/entry\.ts$/,
    may: ["errors", "types", "transports/(shared)"],
    why: "the table and its entries load at start-up: they import() transport code",
  },
];

/**
 * cli/ reaches transports only through the table (ops build them), but for these files: WIM
 * facts for `ferry wim` and OS-image names.
 */
const CLI_TRANSPORT_FILES =
  /^transports\/(table|entry|spec-path|local-spec|path-argument)\.ts$|^transports\/[^/]+\/entry\.ts$|^transports\/wim\/(artifact|reader)\.ts$/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** The files a module imports as values: static imports and re-exports, and `import()`. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  const statics = /^(?:import|export)(\s+type)?\s[^;]*?from\s+"(\.[^"]+)";/gms;
  for (const match of text.matchAll(statics)) if (!match[1]) found.push(match[2] as string);
  for (const match of text.matchAll(/import\("(\.[^"]+)"\)/g)) found.push(match[1] as string);
  return found.map((specifier) =>
    path.relative(SRC, path.resolve(path.dirname(file), specifier)).replace(/\.js$/, ".ts"),
  );
}

function allowed(from: string, to: string): boolean {
  const fromLayer = layerOf(from);
  const toLayer = layerOf(to);
  if (fromLayer === toLayer) return true;
  const general = (layer: string) => (layer.startsWith("transports/") ? "transports" : layer);
  const narrower = NARROWER.find((rule) => rule.files.test(from));
  if (narrower) {
    return narrower.may.includes(toLayer) || /^transports\/[^/]+\/entry\.ts$/.test(to);
  }
  if (general(fromLayer) === "cli" && general(toLayer) === "transports")
    return CLI_TRANSPORT_FILES.test(to);
  const may = MAY_IMPORT[general(fromLayer)] ?? [];
  return may.includes(general(toLayer));
}

describe("the layers of src/ (docs/architecture.md)", () => {
  const files = sourceFiles(SRC).map((file) => path.relative(SRC, file));

  it("every value import goes where its layer may import", () => {
    const wrong: string[] = [];
    for (const file of files) {
      for (const target of valueImports(path.join(SRC, file))) {
        if (!allowed(file, target)) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("sees the imports it checks (the engine's, the table's import()s)", () => {
    expect(valueImports(path.join(SRC, "engine/copy.ts"))).toContain("digest/verifying-stream.ts");
    expect(valueImports(path.join(SRC, "transports/layout/entry.ts"))).toContain(
      "transports/layout/source.ts",
    );
    // And refuses what the table forbids.
    expect(allowed("engine/copy.ts", "transports/layout/source.ts")).toBe(false);
    expect(allowed("cli/commands/save.run.ts", "transports/registry/client.ts")).toBe(false);
    expect(allowed("transports/table.ts", "transports/registry/client.ts")).toBe(false);
    expect(allowed("types/manifest.ts", "util/lock.ts")).toBe(false);
  });
});
