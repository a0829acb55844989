/**
 * A full disk under a registry save, which downloads straight into its bundle (no cache copy):
 * the save must fail with "no space left", leave no file and give the space back, and the
 * bytes that had landed in the bundle must survive in the download cache (on another disk), so
 * the next save elsewhere does not fetch everything again. A 4 MiB tmpfs, root only (see
 * full-disk.test.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry } from "../helpers/cli.js";
import { makeImage, pushImage, type RunningRegistry, startRegistry } from "../helpers/registry.js";
import { freeBytes, mountTmpfs, unmountTmpfs } from "../helpers/tmpfs.js";

const MiB = 1024 * 1024;

describe("a full disk: a registry save straight into its bundle", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "ferry-stress-fulldisk-reg-"));
  const mnt = path.join(root, "mnt");
  let registry: RunningRegistry;

  beforeAll(async () => {
    registry = await startRegistry();
    // 5 MiB of layers: more than the 4 MiB disk holds.
    const image = makeImage({ layers: [randomBytes(3 * MiB), randomBytes(2 * MiB)] });
    await pushImage(registry.url, "full/app", "1", image);
    mkdirSync(mnt);
    mountTmpfs(mnt, "4m");
  }, 60_000);

  afterAll(async () => {
    unmountTmpfs(mnt);
    await registry?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("fails with no space left, leaves no file, frees its space; the next save keeps what had landed", () => {
    const out = path.join(mnt, "out");
    mkdirSync(out);
    const cache = path.join(root, "cache");
    const free = freeBytes(mnt);
    const ref = `${registry.host}/full/app:1`;
    const save = ferry(["save", ref, "-o", path.join(out, "b.zip"), "--cache", cache]);
    expect(save.code, save.stderr).not.toBe(0);
    expect(save.stderr).toMatch(/no space left/i);
    expect(readdirSync(out)).toEqual([]);
    expect(freeBytes(mnt)).toBe(free);
    // Nothing of the failed run is left in the journal: its bytes were copied into the cache.
    expect(readdirSync(path.join(cache, "journal"))).toEqual([]);

    const again = ferry(["save", ref, "-o", path.join(root, "b.zip"), "--cache", cache]);
    expect(again.code, again.stderr).toBe(0);
    // The layers had bytes in the bundle when the disk filled (one whole, kept in `blobs/`, or
    // cut, kept in `partial/` and resumed): the second run fetches well under their 5 MiB.
    const [, amount, unit] = /downloaded ([\d.]+)(B|kB|MB)/.exec(again.stderr) ?? [];
    const scale: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6 };
    const fetched = Number(amount) * (scale[unit ?? ""] ?? Number.NaN);
    expect(fetched, again.stderr).toBeLessThan(4.5e6);
  });
});
