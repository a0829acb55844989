import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { staleOutputs } from "./global-setup.js";
import { tempDir } from "./helpers/cli.js";

describe("the stale dist/ check before the tests", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  function project(name: string): string {
    const root = path.join(tmp.dir, name);
    for (const dir of ["src/cli", "dist/cli"]) mkdirSync(path.join(root, dir), { recursive: true });
    for (const file of ["src/main.ts", "src/cli/run.ts", "src/types.d.ts"]) {
      writeFileSync(path.join(root, file), "export {};\n");
    }
    for (const file of ["dist/main.js", "dist/cli/run.js"]) {
      writeFileSync(path.join(root, file), "export {};\n");
    }
    const old = new Date("2026-01-01T00:00:00Z");
    const fresh = new Date("2026-01-02T00:00:00Z");
    for (const file of ["src/main.ts", "src/cli/run.ts", "src/types.d.ts"]) {
      utimesSync(path.join(root, file), old, old);
    }
    for (const file of ["dist/main.js", "dist/cli/run.js"]) {
      utimesSync(path.join(root, file), fresh, fresh);
    }
    return root;
  }

  it("finds nothing when every source has a newer output", () => {
    expect(staleOutputs(project("fresh"))).toEqual([]);
  });

  it("names a source edited after the build, and one never built", () => {
    const root = project("stale");
    const later = new Date("2026-01-03T00:00:00Z");
    utimesSync(path.join(root, "src/cli/run.ts"), later, later);
    writeFileSync(path.join(root, "src/new.ts"), "export {};\n");
    expect(staleOutputs(root).sort()).toEqual([path.join("cli", "run.ts"), "new.ts"]);
  });

  it("this repository's dist/ is up to date while the tests run", () => {
    expect(staleOutputs()).toEqual([]);
  });
});
