/**
 * Issue 7, full disk: a 4 MiB tmpfs mounted by the test (root only: when the mount fails the
 * tests FAIL with the reason, they do not skip). A load into a store on it and a save (plain
 * and split) onto it, of more than fits, must fail with exit code 8 and "no space left",
 * remove their temp files (the free space comes back), and leave the store as it was. Then a
 * sweep leaves room for the staged blobs plus 0-3 pages, so that the space runs out during the
 * commit (lock file, index.json, log): the store must stay consistent and the load must either
 * complete or fail with exit 8. Known gaps (exit code of a plain save; orphans left by a
 * commit that fails) are asserted in full-disk-edges.test.ts.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkStore } from "../../src/ops/check.js";
import { collectGarbage } from "../../src/ops/gc.js";
import { removeImages } from "../../src/ops/rmi.js";
import { ferry, ferryJson } from "../helpers/cli.js";
import { showSeedOnFailure, stressSeed } from "../helpers/seeded.js";
import { freeBytes } from "../helpers/tmpfs.js";
import { fingerprint } from "../helpers/tree.js";
import { loadWithSparePages, stagingLeft, useFullDisk } from "./full-disk-lib.js";

showSeedOnFailure(stressSeed());

describe("a full disk: load and save fail cleanly", () => {
  const disk = useFullDisk("ferry-stress-fulldisk-");

  it("load of 5 MiB into a store on a 4 MiB disk: exit 8, no space left, store as it was", () => {
    const free = freeBytes(disk.mnt);
    const load = ferry(["load", disk.big, "--store", disk.store]);
    expect(load.code, load.stderr).toBe(8);
    expect(load.stderr).toMatch(/\[ENOSPC\].*no space left on device/);
    expect(load.stderr).toMatch(/hint: free some space/);
    expect(stagingLeft(disk.store)).toEqual([]);
    expect(fingerprint(disk.store)).toEqual(disk.before);
    expect(freeBytes(disk.mnt)).toBe(free);
    const check = ferryJson<{ ok: boolean; staleTemp: string[] }>(["check", "--store", disk.store]);
    expect(check.code).toBe(0);
    expect(check.json.staleTemp).toEqual([]);
  });

  it("save of 5 MiB onto a 4 MiB disk: fails, leaves no file, frees its space", () => {
    const out = path.join(disk.mnt, "out");
    mkdirSync(out);
    const free = freeBytes(disk.mnt);
    const save = ferry(["save", `oci:${disk.bigLayout}`, "-o", path.join(out, "big.zip")]);
    expect(save.code, save.stderr).not.toBe(0);
    expect(save.stderr).toMatch(/no space left/i);
    expect(readdirSync(out)).toEqual([]);
    expect(freeBytes(disk.mnt)).toBe(free);
    expect(fingerprint(disk.store)).toEqual(disk.before);
    rmSync(out, { recursive: true });
  });

  it("split save onto a 4 MiB disk: exit 8, no space left, no part left behind", () => {
    const out = path.join(disk.mnt, "out-split");
    mkdirSync(out);
    const free = freeBytes(disk.mnt);
    const save = ferry([
      "save",
      `oci:${disk.bigLayout}`,
      "-o",
      path.join(out, "big.zip"),
      "--split",
      "1M",
    ]);
    expect(save.code, save.stderr).toBe(8);
    expect(save.stderr).toMatch(/\[ENOSPC\].*no space left on device/);
    expect(readdirSync(out)).toEqual([]);
    expect(freeBytes(disk.mnt)).toBe(free);
    rmSync(out, { recursive: true });
  });

  it("space running out during the commit (room for the blobs + 0..3 pages): consistent, exit 0 or 8", async () => {
    const rows: string[] = [];
    for (const spare of [0, 1, 2, 3]) {
      const load = loadWithSparePages(disk, spare);
      const first = load.stderr.trim().split("\n")[0] ?? "";
      const what = `${spare} spare page(s): exit ${load.code} ${first}`;
      rows.push(what);
      expect([0, 8], what).toContain(load.code);
      if (load.code === 8) expect(load.stderr, what).toMatch(/no space left/i);
      expect(stagingLeft(disk.store), what).toEqual([]);
      const check = await checkStore(disk.store);
      expect(check.problems, what).toEqual([]);
      expect(check.staleTemp, what).toEqual([]);
      // index.json and the first image are untouched whatever happened
      const now = fingerprint(disk.store);
      for (const [file, hash] of Object.entries(disk.before)) {
        if (load.code === 0 && file === "index.json") continue;
        expect(now[file], `${what}: ${file}`).toBe(hash);
      }
      // back to the first image only, for the next step
      if (load.code === 0) await removeImages(disk.store, ["stress.example/small:1"]);
      await collectGarbage(disk.store);
      expect(fingerprint(disk.store), what).toEqual(disk.before);
    }
    console.log(`commit-time ENOSPC sweep:\n  ${rows.join("\n  ")}`);
  });
});
