/**
 * What `npm i -g ferry` and `npm i -g <git checkout>` install: `npm pack` carries bin/ferry,
 * the built dist/ (with the library entry package.json's `main` and `types` name) and no
 * sources or tests; `prepare` builds dist/ for an install from git; npm's own shim generator
 * (cmd-shim, which writes `ferry.cmd` and `ferry.ps1` on Windows) reads bin/ferry's first line
 * as `node`, also from a checkout whose line ends Windows turned into CRLF, and the shell shim
 * it writes runs ferry.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import cmdShim from "cmd-shim";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "../helpers/cli.js";

const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
  version: string;
  main: string;
  types: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

describe("the npm package", () => {
  it("npm pack carries bin/ferry, dist/ with main and types, and no sources or tests", () => {
    const pack = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(pack.status, pack.stderr).toBe(0);
    const files = (
      JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>
    )[0]?.files.map((f) => f.path);
    for (const needed of [
      "package.json",
      "bin/ferry",
      "bin/package.json",
      pkg.main,
      pkg.types,
      "dist/cli/main.js",
      "docs/windows.md",
    ]) {
      expect(files, needed).toContain(needed);
    }
    for (const file of files ?? [])
      expect(file).not.toMatch(/^(src|test|bench|scripts|node_modules)\//);
  });

  it("main and types exist and the library entry exports what a script needs", async () => {
    expect(pkg.bin).toEqual({ ferry: "bin/ferry" });
    expect(existsSync(path.join(repoRoot, pkg.main))).toBe(true);
    expect(existsSync(path.join(repoRoot, pkg.types))).toBe(true);
    const library = (await import(path.join(repoRoot, pkg.main))) as Record<string, unknown>;
    for (const name of [
      "loadBundle",
      "verifyBundle",
      "inspectBundle",
      "FerryError",
      "EXIT_CODES",
    ]) {
      expect(library[name], name).toBeDefined();
    }
  });

  it("an install from a git checkout builds dist/ (prepare)", () => {
    expect(pkg.scripts.prepare).toBe("npm run build");
    expect(pkg.scripts.build).toMatch(/^tsc -p tsconfig\.build\.json$/);
  });
});

describe("npm's shims for bin/ferry (Windows: ferry.cmd, ferry.ps1)", () => {
  const tmp = tempDir("ferry-shims-");
  afterAll(() => tmp.cleanup());

  /** A copy of the package's bin/ and dist/ as npm installs it, with its shims beside it. */
  async function install(name: string, lineEnds: "lf" | "crlf"): Promise<string> {
    const prefix = path.join(tmp.dir, name);
    const target = path.join(prefix, "node_modules", "ferry");
    mkdirSync(target, { recursive: true });
    for (const part of ["bin", "dist", "package.json"]) {
      cpSync(path.join(repoRoot, part), path.join(target, part), { recursive: true });
    }
    if (lineEnds === "crlf") {
      const script = path.join(target, "bin", "ferry");
      writeFileSync(script, readFileSync(script, "utf8").replace(/\n/g, "\r\n"));
    }
    // node_modules/ferry's dependencies, where npm would have installed them (linked here).
    for (const name of readdirSync(path.join(repoRoot, "node_modules"))) {
      if (name.startsWith(".")) continue;
      symlinkSync(
        path.join(repoRoot, "node_modules", name),
        path.join(prefix, "node_modules", name),
      );
    }
    await cmdShim(path.join(target, "bin", "ferry"), path.join(prefix, "ferry"));
    return prefix;
  }

  it.each(["lf", "crlf"] as const)(
    "a checkout with %s line ends: the shims run node on bin\\ferry",
    async (lineEnds) => {
      const prefix = await install(`install-${lineEnds}`, lineEnds);
      const cmd = readFileSync(path.join(prefix, "ferry.cmd"), "utf8");
      expect(cmd).toContain('"%dp0%\\node_modules\\ferry\\bin\\ferry"');
      expect(cmd).toMatch(/SET "_prog=node"/);
      const ps1 = readFileSync(path.join(prefix, "ferry.ps1"), "utf8");
      expect(ps1).toContain('"$basedir/node_modules/ferry/bin/ferry"');
      expect(ps1).toContain('& "node$exe"  "$basedir/node_modules/ferry/bin/ferry" $args');
      const run = spawnSync("sh", [path.join(prefix, "ferry"), "--version"], { encoding: "utf8" });
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe(pkg.version);
    },
    120_000,
  );
});
