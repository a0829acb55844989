/**
 * Issue 7, crashes: `ferry load` and `ferry save` killed with SIGKILL at seeded points spread
 * over a measured unkilled run: about two thirds before the engine's commit event, the rest
 * from the commit to past the end (FERRY_PROGRESS=json tells when the commit starts). The
 * bundle holds 3 images x 16 MiB random layers (40 MiB with FERRY_STRESS=full), doubled
 * (at most twice) while an unkilled load takes under 0.5 s, so the kills have room; the kill
 * points are planned over the measured run whatever its length. After each killed load, `ferry check`
 * finds the store consistent (stale temp files are reported but fine), the image that was in
 * the store before is intact, and the same load then completes. After each killed save,
 * nothing is under the output name unless it is complete, and then it verifies; the same for
 * split volumes (`.parts` is written last). FERRY_STRESS=full runs 60 load, 40 save and 20
 * split-save trials instead of 20, 20 and 3.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { Rng, STRESS_FULL, stressFile } from "../helpers/seeded.js";
import { saveLayout, seededBundle } from "../helpers/stress-bundles.js";
import {
  type CheckJson,
  describeKill,
  killPlan,
  type Run,
  runFerry,
  storeNames,
} from "./kill-lib.js";

const FULL = STRESS_FULL;
const { seed: SEED, timeout: TIMEOUT } = stressFile();
/** Layer size to start from; doubled (up to twice) until an unkilled load takes 0.5 s. */
const LAYER_MIB = FULL ? 40 : 16;
const MIN_LOAD_MS = 500;
const LOAD_TRIALS = FULL ? 60 : 20;
const SAVE_TRIALS = FULL ? 40 : 20;
const SPLIT_SAVE_TRIALS = FULL ? 20 : 3;
const BIG_REFS = [1, 2, 3].map((n) => `stress.example/big:${n}`);
const SEED_REF = "stress.example/seed:1";

describe("ferry killed with SIGKILL at any instant", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "ferry-stress-crash-"));
  const bigLayout = path.join(root, "layout-big");
  const bundle = path.join(root, "big.zip");
  const pristine = path.join(root, "store-pristine");

  /** The measured unkilled load (of the bundle finally used) and the layer size chosen. */
  let unkilledLoad: Run;
  let layerMib = LAYER_MIB;

  function buildBig(mib: number): Promise<unknown> {
    rmSync(bigLayout, { recursive: true, force: true });
    rmSync(bundle, { force: true });
    const layout = createLayout(bigLayout);
    for (const ref of BIG_REFS) {
      layout.tag(ref, layout.image({ layers: [randomLayer(mib * 1024 * 1024)] }));
    }
    layout.finish();
    return saveLayout(bigLayout, bundle);
  }

  /** One save of the big layout (with `extra` flags), not killed: how it ran, what it wrote. */
  async function measureSave(
    name: string,
    extra: string[] = [],
  ): Promise<{ unkilled: Run; files: string[] }> {
    const dir = path.join(root, name);
    mkdirSync(dir);
    const unkilled = await runFerry([
      "save",
      `oci:${bigLayout}`,
      "-o",
      path.join(dir, "b.zip"),
      ...extra,
      "-q",
    ]);
    const files = readdirSync(dir);
    rmSync(dir, { recursive: true, force: true });
    return { unkilled, files };
  }

  beforeAll(async () => {
    const seedBundle = await seededBundle(
      root,
      "seed",
      { images: 1, base: 4096, own: 2048 },
      new Rng(SEED).fork("crash-seed"),
    );
    expect(ferry(["load", seedBundle, "--store", pristine]).code).toBe(0);
    for (let attempt = 0; ; attempt++) {
      await buildBig(layerMib);
      const reference = path.join(root, "store-reference");
      cpSync(pristine, reference, { recursive: true });
      unkilledLoad = await runFerry(["load", bundle, "--store", reference, "-q"]);
      rmSync(reference, { recursive: true, force: true });
      expect(unkilledLoad.code).toBe(0);
      if (unkilledLoad.ms >= MIN_LOAD_MS || attempt === 2) break;
      layerMib *= 2;
    }
  }, 300_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it(
    `load: ${LOAD_TRIALS} kills spread over a measured load; check is clean and the load then completes`,
    async () => {
      const unkilled = unkilledLoad;
      // No floor on its length: the kill points are planned over this measured run, however
      // fast the machine made it (a floor failed on a fast machine once the layers stopped
      // growing).
      expect(unkilled.commitAt, "no commit event on stderr (FERRY_PROGRESS=json)").toBeDefined();

      const rng = new Rng(SEED).fork("load-kills");
      const rows: string[] = [];
      let committed = 0;
      for (const [trial, kill] of killPlan(rng, LOAD_TRIALS, unkilled).entries()) {
        const store = path.join(root, `store-${trial}`);
        cpSync(pristine, store, { recursive: true });
        const killed = await runFerry(["load", bundle, "--store", store, "-q"], kill);
        const blobs = readdirSync(path.join(store, "blobs", "sha256")).length;
        const staging = existsSync(path.join(store, ".ferry", "tmp"))
          ? readdirSync(path.join(store, ".ferry", "tmp")).length
          : 0;
        const check = ferryJson<CheckJson>(["check", "--store", store]);
        const what = `trial ${trial} (kill at ${describeKill(kill)})`;
        expect(check.code, `${what}: ${JSON.stringify(check.json.problems)}`).toBe(0);
        expect(check.json.ok).toBe(true);
        expect(check.json.problems).toEqual([]);
        const names = storeNames(store);
        expect(names, what).toContain(SEED_REF);
        for (const name of names) expect([SEED_REF, ...BIG_REFS], what).toContain(name);
        if (names.length > 1) committed++;
        const again = await runFerry(["load", bundle, "--store", store, "-q"]);
        expect(again.code, `${what}: the same load did not complete`).toBe(0);
        expect(storeNames(store), what).toEqual([...BIG_REFS, SEED_REF].sort());
        if (trial === LOAD_TRIALS - 1 || FULL) {
          const after = ferryJson<CheckJson>(["check", "--store", store]);
          expect(after.code).toBe(0);
          expect(after.json.images).toBe(4);
        }
        rows.push(
          `| ${trial} | ${describeKill(kill)} | ${killed.finishedFirst ? "finished first" : `killed at ${killed.killedAt} ms`} | ${blobs} | ${staging} | ${names.length - 1} | ${check.json.staleTemp.length} | ${check.json.orphans.length} | ${again.ms} |`,
        );
        rmSync(store, { recursive: true, force: true });
      }
      console.log(
        [
          `load kills (seed ${SEED}), 3 x ${layerMib} MiB layers: unkilled load ${unkilled.ms} ms, commit event at ${unkilled.commitAt} ms; ${committed} trial(s) found the images already committed`,
          "| trial | kill planned | result | blobs in store | staging dirs | big images named | stale temp | orphans | re-load ms |",
          "|---:|---|---|---:|---:|---:|---:|---:|---:|",
          ...rows,
        ].join("\n"),
      );
    },
    TIMEOUT,
  );

  it(
    `save: ${SAVE_TRIALS} kills; the output name holds a complete bundle or nothing`,
    async () => {
      const { unkilled } = await measureSave("save-measure");
      expect(unkilled.code).toBe(0);
      expect(unkilled.commitAt, "no commit event on stderr (FERRY_PROGRESS=json)").toBeDefined();
      const rng = new Rng(SEED).fork("save-kills");
      const rows: string[] = [];
      let complete = 0;
      for (const [trial, kill] of killPlan(rng, SAVE_TRIALS, unkilled).entries()) {
        const dir = path.join(root, `save-${trial}`);
        mkdirSync(dir);
        const output = path.join(dir, "b.zip");
        const killed = await runFerry(["save", `oci:${bigLayout}`, "-o", output, "-q"], kill);
        const files = readdirSync(dir);
        const what = `save trial ${trial} (kill at ${describeKill(kill)}): ${files.join(", ")}`;
        for (const name of files) {
          if (name === "b.zip") continue;
          // anything else is a temp file, never a name a reader would take for the bundle
          expect(name, what).not.toMatch(/^b\.zip(\.\d{3}|\.parts)?$/);
        }
        if (files.includes("b.zip")) {
          complete++;
          const verify = ferry(["verify", output, "-q"]);
          expect(verify.code, `${what}: ${verify.stderr}`).toBe(0);
        }
        if (trial === SAVE_TRIALS - 1 || FULL) {
          const again = await runFerry(["save", `oci:${bigLayout}`, "-o", output, "-q"]);
          expect(again.code, `${what}: the same save did not complete`).toBe(0);
        }
        rows.push(
          `| ${trial} | ${describeKill(kill)} | ${killed.finishedFirst ? "finished first" : `killed at ${killed.killedAt} ms`} | ${files.includes("b.zip") ? "complete, verifies" : "absent"} | ${files.filter((f) => f !== "b.zip").length} |`,
        );
        rmSync(dir, { recursive: true, force: true });
      }
      console.log(
        [
          `save kills (seed ${SEED}): unkilled save ${unkilled.ms} ms, commit event at ${unkilled.commitAt} ms; ${complete} trial(s) found a complete bundle`,
          "| trial | kill planned | result | b.zip | temp files left |",
          "|---:|---|---|---|---:|",
          ...rows,
        ].join("\n"),
      );
    },
    TIMEOUT,
  );

  it(
    `save --split: ${SPLIT_SAVE_TRIALS} kills; .parts appears only over complete parts`,
    async () => {
      const split = ["--split", "16M"];
      const { unkilled, files } = await measureSave("split-measure", split);
      expect(unkilled.code).toBe(0);
      const expectedParts = files.filter((f) => /^b\.zip\.\d{3}$/.test(f)).length;
      expect(expectedParts).toBeGreaterThan(1);
      const rng = new Rng(SEED).fork("split-kills");
      const seen: string[] = [];
      for (const [trial, kill] of killPlan(rng, SPLIT_SAVE_TRIALS, unkilled).entries()) {
        const dir = path.join(root, `split-${trial}`);
        mkdirSync(dir);
        const output = path.join(dir, "b.zip");
        await runFerry(["save", `oci:${bigLayout}`, "-o", output, ...split, "-q"], kill);
        const files = readdirSync(dir);
        const what = `split trial ${trial} (kill at ${describeKill(kill)}): ${files.join(", ")}`;
        expect(files, what).not.toContain("b.zip");
        const parts = files.filter((f) => /^b\.zip\.\d{3}$/.test(f)).length;
        if (files.includes("b.zip.parts")) {
          seen.push("complete");
          const verify = ferry(["verify", `${output}.parts`, "-q"]);
          expect(verify.code, `${what}: ${verify.stderr}`).toBe(0);
        } else if (parts > 0) {
          // parts renamed before .parts was written: never taken for a good bundle unless whole
          seen.push(`${parts} of ${expectedParts} parts, no .parts`);
          const verify = ferry(["verify", path.join(dir, "b.zip.001"), "-q"]);
          if (parts < expectedParts) expect(verify.code, what).not.toBe(0);
        } else seen.push("nothing under the output name");
        rmSync(dir, { recursive: true, force: true });
      }
      console.log(`split save kills: ${seen.join("; ")}`);
    },
    TIMEOUT,
  );
});
