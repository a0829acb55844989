/**
 * A signed split save names every file that must travel, `.parts.sig` included (human summary
 * and --json `files`); exactly those files, copied to a new folder, verify and load with
 * --trust; leave `.parts.sig` behind and the offline side says that file is missing.
 */

import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, samplesOci, tempDir } from "../helpers/cli.js";

describe("the files a split save says to copy", () => {
  const tmp = tempDir("ferry-split-files-");
  const out = path.join(tmp.dir, "out");
  const key = path.join(tmp.dir, "signer");
  const bundle = path.join(out, "s.zip");

  beforeAll(() => {
    mkdirSync(out);
    expect(ferry(["keygen", "-o", key]).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  const saveArgs = (extra: string[]) => [
    "save",
    `oci:${samplesOci}`,
    "-o",
    bundle,
    "--split",
    "4K",
    ...extra,
  ];
  const save = (extra: string[]) => ferry(saveArgs(extra));
  /** The files a signed split save lists (--json). */
  const signedSplitFiles = () =>
    ferryJson<{ files: string[] }>(saveArgs(["--sign", key])).json.files;
  /** A new folder `name` holding copies of `files`. */
  const copyInto = (name: string, files: string[]): string => {
    const stick = path.join(tmp.dir, name);
    mkdirSync(stick);
    for (const file of files) copyFileSync(file, path.join(stick, path.basename(file)));
    return stick;
  };

  it("lists every file written, .parts.sig included, in the summary and in --json", () => {
    const human = save(["--sign", key, "--parity"]);
    expect(human.code, human.stderr).toBe(0);
    const written = readdirSync(out).sort();
    expect(written).toContain("s.zip.parts.sig");
    expect(human.stdout).toContain(`copy all ${written.length} file(s) into one folder`);
    for (const file of written) expect(human.stdout).toMatch(new RegExp(`^  ${file}$`, "m"));

    const json = ferryJson<{ files: string[] }>(saveArgs(["--sign", key, "--parity"]));
    expect(json.code, json.stderr).toBe(0);
    expect(json.json.files.map((f) => path.basename(f)).sort()).toEqual(written);
    expect(json.json.files.every((f) => path.dirname(f) === out)).toBe(true);
  });

  it("exactly the listed files, copied elsewhere, verify and load with --trust", () => {
    const stick = copyInto("stick", signedSplitFiles());
    const parts = path.join(stick, "s.zip.parts");
    const verified = ferry(["verify", parts, "--trust", `${key}.pub`]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const loaded = ferry([
      "load",
      parts,
      "--trust",
      `${key}.pub`,
      "--store",
      path.join(tmp.dir, "store"),
    ]);
    expect(loaded.code, loaded.stderr).toBe(0);
  });

  it("without .parts.sig, verify and load --trust name the missing file instead of 'not signed'", () => {
    const stick = copyInto(
      "forgot-sig",
      signedSplitFiles().filter((f) => !f.endsWith(".sig")),
    );
    const parts = path.join(stick, "s.zip.parts");
    const store = path.join(tmp.dir, "store-forgot");
    for (const args of [
      ["verify", parts],
      ["load", parts, "--store", store],
    ]) {
      const result = ferry([...args, "--trust", `${key}.pub`]);
      expect(result.code).toBe(6);
      expect(result.stderr).toContain(
        "s.zip.parts.sig is missing next to s.zip.parts: with --trust",
      );
      expect(result.stderr).toContain(
        `hint: copy s.zip.parts.sig from where the bundle was saved into ${stick}`,
      );
      expect(result.stderr).not.toContain("not signed");
      expect(result.stderr).not.toContain("drop --trust");
    }
    expect(readdirSync(tmp.dir)).not.toContain("store-forgot");
  });

  it("a single-file save lists the one file", () => {
    const single = path.join(tmp.dir, "one.zip");
    const { code, json } = ferryJson<{ files: string[] }>([
      "save",
      `oci:${samplesOci}`,
      "-o",
      single,
    ]);
    expect(code).toBe(0);
    expect(json.files).toEqual([single]);
  });
});
