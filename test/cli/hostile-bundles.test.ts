import { existsSync, readdirSync, statSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, repoRoot, run, tempDir } from "../helpers/cli.js";
import { fingerprint } from "../helpers/tree.js";

const craft = path.join(repoRoot, "test", "helpers", "craft_zip.py");

describe("hostile and damaged bundles are refused before anything is written", () => {
  const tmp = tempDir();
  const good = path.join(tmp.dir, "good.zip");
  const store = path.join(tmp.dir, "work", "store");
  let before: Record<string, string> = {};

  beforeAll(() => {
    expect(ferry(["save", `oci:${path.join(repoRoot, "samples", "oci")}`, "-o", good]).code).toBe(
      0,
    );
    const seed = path.join(tmp.dir, "seed.zip");
    expect(
      ferry([
        "save",
        `docker-archive:${path.join(repoRoot, "samples", "docker-save.tar")}`,
        "-o",
        seed,
      ]).code,
    ).toBe(0);
    expect(ferry(["load", seed, "--store", store]).code).toBe(0);
    before = fingerprint(store);
  });
  afterAll(() => tmp.cleanup());

  const cases: Array<[string, RegExp]> = [
    ["traversal", /"\.\.\/evil" is not allowed: parent-directory/],
    ["traversal-deep", /"blobs\/\.\.\/\.\.\/evil" is not allowed/],
    ["absolute", /"\/tmp\/evil" is not allowed: absolute path/],
    ["drive", /"C:evil" is not allowed: drive-letter path/],
    ["backslash", /is not allowed: backslash/],
    ["ntfs-stream", /"index\.json:evil" is not allowed/],
    ["device", /"CON" is not allowed/],
    ["trailing-dot", /"index\.json\." is not allowed/],
    ["case-collision", /"INDEX\.JSON" differs from "index\.json" only in case/],
    ["unlisted-blob", /not listed in ferry\.json/],
    ["duplicate", /appears more than once/],
    ["symlink", /is a symbolic link/],
    ["missing-blob", /listed in ferry\.json but missing from the bundle/],
    ["size-lie", /bytes in the zip, ferry\.json says/],
    ["bad-ferry-json", /ferry\.json is not valid JSON/],
  ];

  for (const [name, message] of cases) {
    it(`${name}: load and verify refuse it, name the entry, and leave the store as it was`, () => {
      const bad = path.join(tmp.dir, `${name}.zip`);
      const crafted = run("python3", [craft, good, bad, name]);
      expect(crafted.code, crafted.stderr).toBe(0);
      const load = ferry(["load", bad, "--store", store]);
      expect(load.code).toBe(3);
      expect(load.stderr).toMatch(message);
      expect(load.stderr).toMatch(/nothing was written/);
      expect(fingerprint(store)).toEqual(before);
      expect(existsSync(path.join(tmp.dir, "work", "evil"))).toBe(false);
      expect(existsSync(path.join(tmp.dir, "evil"))).toBe(false);
      const verify = ferryJson<{ ok: boolean; problems: Array<{ message: string }> }>([
        "verify",
        bad,
      ]);
      expect(verify.code).toBe(3);
      expect(verify.json.ok).toBe(false);
      expect(verify.json.problems.map((p) => p.message).join("\n")).toMatch(message);
    });
  }

  it("a bundle re-zipped with deflate (e.g. by `zip`) still verifies and loads", () => {
    const deflated = path.join(tmp.dir, "deflate.zip");
    expect(run("python3", [craft, good, deflated, "deflate"]).code).toBe(0);
    expect(ferry(["verify", deflated]).code).toBe(0);
    const other = path.join(tmp.dir, "other-store");
    expect(ferry(["load", deflated, "--store", other]).code).toBe(0);
  });

  it("a file that is not a zip is refused with a hint", () => {
    const notZip = path.join(tmp.dir, "not.zip");
    writeFileSync(notZip, "hello, I am not a zip file at all".repeat(10));
    const load = ferry(["load", notZip, "--store", store]);
    expect(load.code).toBe(3);
    expect(load.stderr).toMatch(/not a readable zip file/);
    expect(load.stderr).toMatch(/hint:/);
    expect(fingerprint(store)).toEqual(before);
  });

  it("a truncated bundle is refused at every cut, with the store untouched", () => {
    const size = statSync(good).size;
    const cuts = [
      1,
      100,
      Math.floor(size / 3),
      Math.floor(size / 2),
      size - 200,
      size - 23,
      size - 1,
    ];
    for (const cut of cuts) {
      const bad = path.join(tmp.dir, `cut-${cut}.zip`);
      run("cp", [good, bad]);
      truncateSync(bad, cut);
      const load = ferry(["load", bad, "--store", store]);
      expect(load.code, `cut at ${cut}: ${load.stderr}`).toBe(3);
      expect(fingerprint(store)).toEqual(before);
      expect(ferry(["verify", bad]).code).toBe(3);
    }
    expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
  });
});
