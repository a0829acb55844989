/**
 * Issue 7, concurrency: five `ferry load` processes, each with a different bundle (all sharing
 * one base layer, so they race to publish the same blob), into one store at once, while
 * `ferry gc` runs again and again beside them. The store starts with another image, an orphan
 * blob and a dead run's staging directory, so every gc has real work. At the end every image
 * is present, `ferry check` is clean (no problem, no orphan, no stale temp file) and the first
 * image is untouched. Several rounds with seeded start delays; FERRY_STRESS=full runs more.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBundle } from "../../src/ops/load.js";
import { ferryBin, ferryJson } from "../helpers/cli.js";
import { createLayout, randomLayer, sha256 } from "../helpers/oci-layout.js";
import { Rng, STRESS_FULL, stressFile } from "../helpers/seeded.js";
import { saveLayout, seededBundle } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";
import { storeNames } from "./kill-lib.js";

const FULL = STRESS_FULL;
const { seed: SEED, timeout: TIMEOUT } = stressFile();
const LOADERS = 5;
const ROUNDS = FULL ? 10 : 2;
const SEED_REF = "stress.example/seed:1";

function exitOf(args: string[], delay: number): Promise<{ code: number | null; ms: number }> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      const started = Date.now();
      const child = spawn(process.execPath, [ferryBin, ...args], { stdio: "ignore" });
      child.on("error", reject);
      child.on("exit", (code) => resolve({ code, ms: Date.now() - started }));
    }, delay);
  });
}

/** A pid no process has (for a dead run's staging directory). */
function deadPid(): number {
  for (let pid = 4_000_000; pid > 100_000; pid -= 7919) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") return pid;
    }
  }
  throw new Error("no free pid found");
}

describe("several loads into one store at once, with gc racing them", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "ferry-stress-concurrent-"));
  const pristine = path.join(root, "store-pristine");
  const bundles: string[] = [];
  const refs: string[] = [];
  let seedPrint: Record<string, string> = {};

  beforeAll(async () => {
    const base = randomLayer(4 * 1024 * 1024);
    for (let b = 1; b <= LOADERS; b++) {
      const layout = createLayout(path.join(root, `layout-${b}`));
      for (const n of [1, 2]) {
        const ref = `stress.example/race${b}:${n}`;
        layout.tag(ref, layout.image({ layers: [base, randomLayer(2 * 1024 * 1024)] }));
        refs.push(ref);
      }
      layout.finish();
      const bundle = path.join(root, `race${b}.zip`);
      await saveLayout(layout.dir, bundle);
      bundles.push(bundle);
    }
    const seedBundle = await seededBundle(
      root,
      "seed",
      { images: 1, base: 4096, own: 2048 },
      new Rng(SEED).fork("race-seed"),
    );
    await loadBundle(seedBundle, { storeDir: pristine });
    seedPrint = fingerprint(pristine);
    // garbage for gc: an orphan blob and a dead run's staging directory
    const orphan = randomLayer(200 * 1024);
    writeFileSync(path.join(pristine, "blobs", "sha256", sha256(orphan)), orphan);
    const staging = path.join(pristine, ".ferry", "tmp", `load-${deadPid()}-${randomUUID()}`);
    mkdirSync(staging, { recursive: true });
    writeFileSync(path.join(staging, `${"ab".repeat(32)}.partial`), randomLayer(64 * 1024));
  }, 180_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it(
    `${LOADERS} loads and a gc loop, ${ROUNDS} rounds: every image present, check clean`,
    async () => {
      const rng = new Rng(SEED).fork("race");
      const rows: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const store = path.join(root, `store-${round}`);
        cpSync(pristine, store, { recursive: true });
        const started = Date.now();
        const loads = bundles.map((bundle) =>
          exitOf(["load", bundle, "--store", store, "-q"], rng.int(0, 60)),
        );
        let loadsDone = false;
        const all = Promise.all(loads).then((results) => {
          loadsDone = true;
          return results;
        });
        const gcs: Array<{ code: number | null; ms: number }> = [];
        const gcLoop = (async () => {
          let delay = rng.int(0, 250);
          do {
            gcs.push(await exitOf(["gc", "--store", store], delay));
            delay = rng.int(0, 150);
          } while (!loadsDone && gcs.length < 40);
        })();
        const results = await all;
        await gcLoop;
        const what = `round ${round}`;
        expect(
          results.map((r) => r.code),
          `${what}: load exit codes`,
        ).toEqual(bundles.map(() => 0));
        expect(
          gcs.map((g) => g.code),
          `${what}: gc exit codes`,
        ).toEqual(gcs.map(() => 0));
        const check = ferryJson<{
          ok: boolean;
          images: number;
          problems: unknown[];
          orphans: unknown[];
          staleTemp: string[];
        }>(["check", "--store", store]);
        expect(check.code, `${what}: ${JSON.stringify(check.json)}`).toBe(0);
        expect(check.json.problems).toEqual([]);
        expect(check.json.orphans, `${what}: orphans after gc`).toEqual([]);
        expect(check.json.staleTemp, `${what}: stale temp`).toEqual([]);
        expect(storeNames(store)).toEqual([...refs, SEED_REF].sort());
        const now = fingerprint(store);
        for (const [file, hash] of Object.entries(seedPrint)) {
          if (file === "index.json") continue;
          expect(now[file], `${what}: ${file} of the first image`).toBe(hash);
        }
        rows.push(
          `| ${round} | ${results.map((r) => r.ms).join(", ")} | ${gcs.length} | ${Date.now() - started} |`,
        );
        rmSync(store, { recursive: true, force: true });
      }
      console.log(
        [
          `concurrent loads (seed ${SEED})`,
          "| round | load ms (each) | gc runs during the loads | round ms |",
          "|---:|---|---:|---:|",
          ...rows,
        ].join("\n"),
      );
    },
    TIMEOUT,
  );
});
