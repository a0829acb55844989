/**
 * `ferry inspect BUNDLE` lists the structural problems it finds and, like verify and load,
 * exits non-zero when there is any (human output and --json alike); a sound bundle exits 0.
 */

import { copyFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, run, samplesOci, tempDir } from "../helpers/cli.js";

describe("inspect on a bundle with a problem", () => {
  const tmp = tempDir("ferry-inspect-problems-");
  const bundle = path.join(tmp.dir, "b.zip");
  const damaged = path.join(tmp.dir, "missing-blob.zip");
  let removed: string;

  beforeAll(() => {
    const saved = ferryJson<{ images: Array<{ ref: string }> }>([
      "save",
      `oci:${samplesOci}`,
      "-o",
      bundle,
    ]);
    expect(saved.code, saved.stderr).toBe(0);
    const listing = run("unzip", ["-Z1", bundle]).stdout.split("\n");
    const blob = listing.find((name) => name.startsWith("blobs/sha256/"));
    if (!blob) throw new Error("no blob entry");
    removed = `sha256:${blob.slice("blobs/sha256/".length)}`;
    copyFileSync(bundle, damaged);
    const zip = run("zip", ["-q", "-d", damaged, blob]);
    expect(zip.code, zip.stderr).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it("a sound bundle: exit 0, no problems", () => {
    const { code, json } = ferryJson<{ problems: unknown[] }>(["inspect", bundle]);
    expect(code).toBe(0);
    expect(json.problems).toEqual([]);
  });

  it("lists the missing blob and exits 3, as verify does", () => {
    const human = ferry(["inspect", damaged]);
    expect(human.stdout).toContain("1 structural problem(s):");
    expect(human.stdout).toContain(removed);
    expect(human.code).toBe(3);
    expect(human.stderr).toMatch(/^hint: /m);

    const { code, json } = ferryJson<{ problems: Array<{ subject: string; message: string }> }>([
      "inspect",
      damaged,
    ]);
    expect(code).toBe(3);
    expect(json.problems.map((p) => p.message).join("\n")).toContain(removed);

    expect(ferry(["verify", damaged]).code).toBe(3);
  });
});
