/**
 * Vitest global setup: the CLI tests run `bin/ferry`, which runs `dist/`. A `dist/` older than
 * `src/` would test yesterday's code without a word, so before any test file runs, every
 * `src/**\/*.ts` must have its `dist/**\/*.js` at least as new; when one does not, this builds
 * (`tsc -p tsconfig.build.json`, as `npm run build` does) and says so, and a failed build stops
 * the run with the compiler's messages.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Every `.ts` source under `dir` (declaration files excluded), relative to `dir`. */
function sources(dir: string, prefix = ""): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = path.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...sources(dir, relative));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) found.push(relative);
  }
  return found;
}

/** The sources whose compiled `.js` in `dist/` is missing or older than they are. */
export function staleOutputs(root: string = repoRoot): string[] {
  const src = path.join(root, "src");
  const dist = path.join(root, "dist");
  return sources(src).filter((relative) => {
    const output = path.join(dist, relative.replace(/\.ts$/, ".js"));
    if (!existsSync(output)) return true;
    return statSync(output).mtimeMs < statSync(path.join(src, relative)).mtimeMs;
  });
}

export default function setup(): void {
  const stale = staleOutputs();
  if (stale.length === 0) return;
  const shown = stale.slice(0, 3).join(", ") + (stale.length > 3 ? ", ..." : "");
  console.log(`dist/ is older than src/ (${stale.length} file(s): ${shown}): building first`);
  const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
  const build = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (build.status !== 0) {
    throw new Error(
      `the CLI tests run dist/, which is older than src/, and building it failed (npm run build):\n${build.stdout}${build.stderr}`,
    );
  }
  const still = staleOutputs();
  if (still.length > 0) {
    throw new Error(`dist/ is still older than src/ after building: ${still.join(", ")}`);
  }
}
