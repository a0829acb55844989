/**
 * util/run-temps.ts: what a forced stop (a second Ctrl-C) removes at once: the temp files and
 * folders listed and not yet let go, and nothing else.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeRunTempsSync, runTemps, trackRunTemp } from "../../src/util/run-temps.js";
import { tempDir } from "../helpers/cli.js";

describe("this run's temporary files", () => {
  const tmp = tempDir("ferry-run-temps-");
  afterAll(() => tmp.cleanup());

  it("removes the listed files and folders at once, not those let go", () => {
    const bundleTemp = path.join(tmp.dir, "out.zip.4242.0123456789ab.tmp");
    const staging = path.join(tmp.dir, "load-4242-x");
    const committed = path.join(tmp.dir, "done.zip.4242.ba9876543210.tmp");
    writeFileSync(bundleTemp, "partial bundle");
    mkdirSync(staging);
    writeFileSync(path.join(staging, `${"a".repeat(64)}.partial`), "staged");
    writeFileSync(committed, "renamed already");
    trackRunTemp(bundleTemp);
    trackRunTemp(staging);
    const letGo = trackRunTemp(committed);
    letGo();
    expect(runTemps()).toEqual([bundleTemp, staging]);
    expect(removeRunTempsSync()).toEqual([]);
    expect(existsSync(bundleTemp)).toBe(false);
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(committed)).toBe(true);
    expect(runTemps()).toEqual([]);
  });
});
