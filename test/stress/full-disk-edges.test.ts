/**
 * Full-disk edge cases found by this suite and fixed: a plain save that runs out of space
 * reports ENOSPC (exit 8), and a load whose commit runs out of space at index.json takes back
 * the blobs it had installed. Mounts its own 4 MiB tmpfs (root only; fails, not skips, without).
 */
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ferry } from "../helpers/cli.js";
import { showSeedOnFailure, stressSeed } from "../helpers/seeded.js";
import { fingerprint } from "../helpers/tree.js";
import { loadWithSparePages, useFullDisk } from "./full-disk-lib.js";

showSeedOnFailure(stressSeed());

describe("full disk at the edges", () => {
  const disk = useFullDisk("ferry-known-fulldisk-");

  it("a plain (not split) save onto a full disk exits 8 with ENOSPC,", () => {
    const out = path.join(disk.mnt, "out");
    mkdirSync(out);
    const save = ferry(["save", `oci:${disk.bigLayout}`, "-o", path.join(out, "big.zip")]);
    rmSync(out, { recursive: true });
    console.log(`save onto a full disk: exit ${save.code}: ${save.stderr.split("\n")[0]}`);
    expect(save.stderr).toMatch(/\[ENOSPC\].*no space left on device/);
    expect(save.code).toBe(8);
  });

  it("a load whose commit runs out of space (index.json) leaves the store byte-identical (no orphan blobs)", () => {
    const failures: string[] = [];
    // 1 spare page is where the space runs out at index.json today; the others around it
    for (const spare of [1, 0, 2, 3]) {
      const load = loadWithSparePages(disk, spare);
      const now = fingerprint(disk.store);
      if (load.code !== 0 && JSON.stringify(now) !== JSON.stringify(disk.before)) {
        const added = Object.keys(now).filter((file) => !(file in disk.before));
        failures.push(
          `${spare} spare page(s): exit ${load.code} (${load.stderr.split("\n")[0]}), left ${added.join(", ")}`,
        );
        break;
      }
      if (load.code === 0) ferry(["rmi", "stress.example/small:1", "--store", disk.store]);
      ferry(["gc", "--store", disk.store]);
    }
    console.log(failures.join("\n"));
    expect(failures).toEqual([]);
  });
});
