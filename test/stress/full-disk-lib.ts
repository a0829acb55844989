/**
 * The full-disk setting shared by full-disk.test.ts and full-disk-edges.test.ts: a 4 MiB tmpfs
 * holding a store with one small image, and bundles/layouts on the ordinary disk that do not
 * fit (about 5 MiB) or just fit (about 60 KiB).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { ferry } from "../helpers/cli.js";
import { Rng, stressSeed } from "../helpers/seeded.js";
import { listTree, seededBundle } from "../helpers/stress-bundles.js";
import { freeBytes, mountTmpfs, unmountTmpfs } from "../helpers/tmpfs.js";
import { fingerprint } from "../helpers/tree.js";

export const PAGE = 4096;

export interface FullDisk {
  mnt: string;
  store: string;
  bigLayout: string;
  big: string;
  small: string;
  /** The store's fingerprint with only its first image. */
  before: Record<string, string>;
}

export async function setUpFullDisk(root: string, seed: number): Promise<FullDisk> {
  const mnt = path.join(root, "mnt");
  mkdirSync(mnt);
  mountTmpfs(mnt, "4m");
  const rng = new Rng(seed).fork("full-disk");
  const big = await seededBundle(
    root,
    "big",
    { images: 2, base: 3 * 1024 * 1024, own: 1024 * 1024 },
    rng.fork("big"),
  );
  const small = await seededBundle(
    root,
    "small",
    { images: 1, base: 40 * 1024, own: 20 * 1024 },
    rng.fork("small"),
  );
  const seedBundle = await seededBundle(
    root,
    "seed",
    { images: 1, base: 8 * 1024, own: 4 * 1024 },
    rng.fork("seed"),
  );
  const store = path.join(mnt, "store");
  const load = ferry(["load", seedBundle, "--store", store, "-q"]);
  if (load.code !== 0) throw new Error(`seeding the store on tmpfs failed: ${load.stderr}`);
  return {
    mnt,
    store,
    bigLayout: path.join(root, "layout-big"),
    big,
    small,
    before: fingerprint(store),
  };
}

/**
 * For a describe block: a full disk (setUpFullDisk, seeded from the stress seed) under a new
 * temp folder named `prefix...`, filled into the returned object before the block's tests,
 * unmounted and removed after them.
 */
export function useFullDisk(prefix: string): FullDisk {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const disk = {} as FullDisk;
  beforeAll(async () => {
    Object.assign(disk, await setUpFullDisk(root, stressSeed()));
  }, 120_000);
  afterAll(() => {
    if (disk.mnt) unmountTmpfs(disk.mnt);
    rmSync(root, { recursive: true, force: true });
  });
  return disk;
}

export function stagingLeft(store: string): string[] {
  return listTree(path.join(store, ".ferry", "tmp"));
}

/** Pages the small bundle's new blobs take when staged: two layers, a config, a manifest. */
export const SMALL_STAGED_PAGES = Math.ceil((40 * 1024) / PAGE) + Math.ceil((20 * 1024) / PAGE) + 2;

/**
 * Fill the disk so that the small bundle's blobs fit with `spare` pages left over, run the
 * load, take the filler away again. Returns the load's result.
 */
export function loadWithSparePages(disk: FullDisk, spare: number) {
  const filler = path.join(disk.mnt, "filler");
  const room = freeBytes(disk.mnt) - (SMALL_STAGED_PAGES + spare) * PAGE;
  if (room <= 0) throw new Error(`no room for a filler (${room})`);
  writeFileSync(filler, Buffer.alloc(room));
  try {
    return ferry(["load", disk.small, "--store", disk.store]);
  } finally {
    rmSync(filler, { force: true });
  }
}
