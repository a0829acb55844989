/**
 * The store on Windows hosts, through injected file operations (util/fs-retry.ts's seams: the
 * platform, the errors, the clock): a scanner holding files ferry renames, links or removes;
 * FAT32 and exFAT stores without hard links (EISDIR, ENOTSUP from libuv on Windows); a
 * committed load whose staging folder cannot be removed yet. Plus staging folders of runs that
 * are gone: the next load removes them, `gc` reports their bytes.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyImages } from "../../../src/engine/copy.js";
import { planImage } from "../../../src/engine/plan.js";
import { collectGarbage } from "../../../src/ops/gc.js";
import { DirectoryFiles } from "../../../src/transports/layout/layout-files.js";
import { StoreSink } from "../../../src/transports/layout/sink.js";
import { LayoutSource } from "../../../src/transports/layout/source.js";
import { Store } from "../../../src/transports/layout/store.js";
import { createFileOps, type FsPrimitives, type RetryNote } from "../../../src/util/fs-retry.js";
import { thisProcess } from "../../../src/util/process-liveness.js";
import { tempDir } from "../../helpers/cli.js";
import { threeImageLayout } from "../../helpers/oci-layout.js";

const tmp = tempDir("ferry-store-windows-");
afterAll(() => tmp.cleanup());

function errno(code: string, call: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected, ${call}`), { code });
}

/** File operations as on Windows, with `faults` deciding which calls fail; no real waiting. */
function windowsOps(faults: Partial<FsPrimitives>) {
  const notes: RetryNote[] = [];
  const fileOps = createFileOps({
    platform: "win32",
    primitives: faults,
    sleep: async () => {},
    onRetry: (note) => notes.push(note),
  });
  return { fileOps, notes };
}

let layoutCount = 0;
/** A fresh three-image layout and its source. */
async function source(): Promise<LayoutSource> {
  const root = path.join(tmp.dir, `layout-${layoutCount++}`);
  threeImageLayout(root);
  return LayoutSource.open(new DirectoryFiles(root), {
    transport: `oci:${root}`,
    fallbackRepository: "localhost/win",
  });
}

/** Copy every image of a fresh layout into `store` (opened with `fileOps`). */
async function load(storeDir: string, fileOps: ReturnType<typeof createFileOps>) {
  const store = await Store.open(storeDir, { create: true, fileOps });
  const from = await source();
  const plans = [];
  for (const image of await from.images()) {
    plans.push(await planImage(from, image, { platforms: "all" }));
  }
  const sink = new StoreSink(store, {});
  const result = await copyImages(sink, plans);
  return { store, sink, result };
}

function names(storeDir: string): string[] {
  const index = JSON.parse(readFileSync(path.join(storeDir, "index.json"), "utf8"));
  return index.manifests.map(
    (d: { annotations: Record<string, string> }) =>
      d.annotations["org.opencontainers.image.ref.name"],
  );
}

const realLink = createFileOps({ platform: "linux" });

describe("a store on a Windows host", () => {
  it("rides out a scanner holding staged blobs and index.json (EBUSY, EPERM), retrying", async () => {
    const storeDir = path.join(tmp.dir, "held");
    const held = new Map<string, number>();
    /** Each path fails twice (EBUSY, then EPERM) before the call goes through. */
    const holdTwice = <T extends unknown[]>(call: (...args: T) => Promise<void>) => {
      return async (...args: T) => {
        const key = String(args[0]);
        const seen = held.get(key) ?? 0;
        held.set(key, seen + 1);
        if (seen === 0) throw errno("EBUSY", key);
        if (seen === 1) throw errno("EPERM", key);
        await call(...args);
      };
    };
    const { fileOps, notes } = windowsOps({
      rename: holdTwice(realLink.rename),
      link: holdTwice(realLink.link),
    });
    const { result } = await load(storeDir, fileOps);
    expect(result.committed).toBe(true);
    expect(names(storeDir)).toEqual([
      "test.example/app:1",
      "test.example/app:2",
      "test.example/app:3",
    ]);
    // Every blob was linked into blobs/ after two refusals, and index.json renamed after two.
    const linked = notes.filter((n) => n.op === "link");
    expect(linked.length).toBe(2 * 10); // 3 manifests, 3 configs, the base, 3 own layers
    const indexRenames = notes.filter((n) => n.op === "rename" && n.path.endsWith(".tmp"));
    expect(indexRenames.length).toBeGreaterThanOrEqual(2);
    expect(readdirSync(path.join(storeDir, ".ferry", "tmp"))).toEqual([]);
  });

  it.each([
    ["FAT32 (libuv: EISDIR)", "EISDIR"],
    ["exFAT (libuv: ENOTSUP)", "ENOTSUP"],
  ])("without hard links, %s, renames staged blobs into place", async (_, code) => {
    const storeDir = path.join(tmp.dir, `nolinks-${code}`);
    let links = 0;
    const { fileOps, notes } = windowsOps({
      link: async (_from, to) => {
        links++;
        throw errno(code, `link ${to}`);
      },
    });
    const { result, store } = await load(storeDir, fileOps);
    expect(result.committed).toBe(true);
    expect(names(storeDir)).toHaveLength(3);
    // Once the file system said it has no hard links, the rest were renamed without asking
    // again: one link attempt, for the first blob; no retries.
    expect(links).toBe(1);
    expect(notes).toEqual([]);
    expect(readdirSync(store.blobDir)).toHaveLength(10);
    expect(readdirSync(path.join(storeDir, ".ferry", "tmp"))).toEqual([]);
  });

  it("a second load without hard links keeps the blobs already there", async () => {
    const storeDir = path.join(tmp.dir, "nolinks-again");
    const noLinks = () =>
      windowsOps({
        link: async (_from, to) => {
          throw errno("EISDIR", `link ${to}`);
        },
      }).fileOps;
    await load(storeDir, noLinks());
    const before = readdirSync(path.join(storeDir, "blobs", "sha256")).length;
    const { result } = await load(storeDir, noLinks());
    expect(result.committed).toBe(true);
    // A new layout: new own layers and base, so blobs are added, none replaced or lost.
    expect(readdirSync(path.join(storeDir, "blobs", "sha256")).length).toBe(before + 10);
  });

  it("a committed load never fails because its staging folder cannot be removed: a warning", async () => {
    const storeDir = path.join(tmp.dir, "stuck-staging");
    const { fileOps } = windowsOps({
      removeTree: async (target) => {
        if (/load\.\d+\.[0-9a-f]+\.tmp$/.test(target)) throw errno("EBUSY", `rmdir ${target}`);
        await realLink.removeTree(target);
      },
    });
    const { result, sink, store } = await load(storeDir, fileOps);
    expect(result.committed).toBe(true);
    expect(names(storeDir)).toHaveLength(3);
    expect(sink.warnings).toHaveLength(1);
    expect(sink.warnings[0]).toMatch(
      /the staging folder .*load\.\d+\.[0-9a-f]+\.tmp was not removed \(EBUSY: on Windows another program.*\); the next load, `ferry gc` or `ferry check --repair` removes it/,
    );
    // Left for later: still this (running) process's, so nothing removes it yet.
    const [left] = readdirSync(store.tmpDir);
    expect(left).toMatch(/^load\.\d+\.[0-9a-f]+\.tmp$/);
    expect(await store.staleTemp()).toEqual([]);
    // Once its owner is gone (its record says so: another boot), gc removes it and says how big.
    const owner = path.join(store.tmpDir, left as string, "owner.json");
    writeFileSync(owner, JSON.stringify({ ...thisProcess(), boot: "an-earlier-boot" }));
    const report = await collectGarbage(storeDir);
    expect(report.staleTemp).toEqual([path.join(store.tmpDir, left as string)]);
    expect(report.staleTempBytes).toBeGreaterThan(0);
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });
});

describe("staging folders of runs that are gone", () => {
  /** A pid that ran and has exited. */
  const deadPid = () => spawnSync(process.execPath, ["-e", "0"]).pid as number;

  it("a load removes them (and only them) before it stages; gc reports their bytes", async () => {
    const storeDir = path.join(tmp.dir, "stale");
    await load(storeDir, realLink);
    const tmpDir = path.join(storeDir, ".ferry", "tmp");
    // A killed load's staged blobs, from a dead pid (named, with its record) ...
    const pid = deadPid();
    const killed = path.join(tmpDir, `load-${pid}-11111111-2222-3333-4444-555555555555`);
    mkdirSync(killed);
    writeFileSync(path.join(killed, "owner.json"), JSON.stringify({ pid, host: hostname() }));
    writeFileSync(path.join(killed, `${"a".repeat(64)}.partial`), Buffer.alloc(300_000));
    writeFileSync(path.join(killed, "b".repeat(64)), Buffer.alloc(77));
    // ... an older ferry's staging folder without a record, named after a dead pid ...
    const older = path.join(tmpDir, `load-${deadPid()}-aaaaaaaa-2222-3333-4444-555555555555`);
    mkdirSync(older);
    writeFileSync(path.join(older, "c".repeat(64)), Buffer.alloc(1000));
    // ... a temp file of a dead writer, and the staging folder of a load running elsewhere
    // (another host sharing the store) and of one running here (this process).
    const deadTemp = path.join(tmpDir, `index.json.${deadPid()}.0123456789ab.tmp`);
    writeFileSync(deadTemp, "{}");
    const elsewhere = path.join(tmpDir, `load-${pid}-bbbbbbbb-2222-3333-4444-555555555555`);
    mkdirSync(elsewhere);
    writeFileSync(
      path.join(elsewhere, "owner.json"),
      JSON.stringify({ pid, host: "another-host.example" }),
    );
    const live = path.join(tmpDir, `load-${process.pid}-cccccccc-2222-3333-4444-555555555555`);
    mkdirSync(live);
    writeFileSync(path.join(live, "owner.json"), JSON.stringify(thisProcess()));

    const dry = await collectGarbage(storeDir, { dryRun: true });
    expect([...dry.staleTemp].sort()).toEqual([killed, older, deadTemp].sort());
    expect(dry.staleTempBytes).toBe(
      300_000 + 77 + 1000 + 2 + readFileSync(path.join(killed, "owner.json")).length,
    );
    expect(existsSync(killed)).toBe(true);

    await load(storeDir, realLink);
    expect(readdirSync(tmpDir).sort()).toEqual(
      [path.basename(elsewhere), path.basename(live)].sort(),
    );
  });
});
