import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { Rng, showSeedOnFailure, stressSeed } from "../helpers/seeded.js";
import { describeKill, killPlan, type Run, runFerry } from "../stress/kill-lib.js";

const SEED = stressSeed();

/** Every file in blobs/sha256 hashes to its name; every named image reads without error. */
function expectConsistentStore(store: string): string[] {
  const blobs = path.join(store, "blobs", "sha256");
  for (const name of readdirSync(blobs)) {
    const hex = createHash("sha256")
      .update(readFileSync(path.join(blobs, name)))
      .digest("hex");
    expect(hex, `blob ${name} is damaged`).toBe(name);
  }
  const { code, json } = ferryJson<Array<{ ref: string; error?: string }>>([
    "images",
    "--store",
    store,
  ]);
  expect(code).toBe(0);
  for (const image of json) expect(image.error, `${image.ref} is incomplete`).toBeUndefined();
  return json.map((i) => i.ref).sort();
}

function bigBundle(dir: string, name: string, images: number): string {
  const layout = createLayout(path.join(dir, `${name}-layout`));
  const base = randomLayer(6 * 1024 * 1024);
  for (let n = 1; n <= images; n++) {
    layout.tag(
      `test.example/${name}:${n}`,
      layout.image({ layers: [base, randomLayer(4 * 1024 * 1024)] }),
    );
  }
  layout.finish();
  const bundle = path.join(dir, `${name}.zip`);
  expect(ferry(["save", `oci:${layout.dir}`, "-o", bundle]).code).toBe(0);
  return bundle;
}

describe("a load killed at any instant", () => {
  const tmp = tempDir();
  const rng = new Rng(SEED).fork("cli-load-kills");
  showSeedOnFailure(SEED);
  let bundle = "";
  let unkilled: Run;
  beforeAll(async () => {
    bundle = bigBundle(tmp.dir, "crash", 4);
    // The kill points are planned over a measured run of this very load on this machine.
    unkilled = await runFerry(["load", bundle, "--store", path.join(tmp.dir, "store-measured")]);
    expect(unkilled.code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it("leaves a consistent store, and the same load then completes (12 trials)", async () => {
    const expected = ["1", "2", "3", "4"].map((n) => `test.example/crash:${n}`);
    const outcomes: string[] = [];
    for (const [trial, kill] of killPlan(rng, 12, unkilled).entries()) {
      const store = path.join(tmp.dir, `store-${trial}`);
      // The exit is awaited through a listener attached at spawn (a load that finishes before
      // its kill point is fine: it is checked like the others).
      const killed = await runFerry(["load", bundle, "--store", store], kill);
      const what = `trial ${trial} (kill at ${describeKill(kill)}, ${killed.finishedFirst ? "finished first" : `killed at ${killed.killedAt} ms`})`;
      if (killed.finishedFirst) expect(killed.code, what).toBe(0);
      // Killed before the store was created (no oci-layout yet): nothing to check but the re-run.
      if (existsSync(path.join(store, "oci-layout"))) {
        const present = expectConsistentStore(store);
        for (const ref of present) expect(expected, what).toContain(ref);
      }
      const again = ferry(["load", bundle, "--store", store]);
      expect(again.code, `${what}: ${again.stderr}`).toBe(0);
      expect(expectConsistentStore(store), what).toEqual(expected);
      outcomes.push(killed.finishedFirst ? "finished" : `killed@${killed.killedAt}`);
    }
    console.log(
      `load kills (seed ${SEED}): unkilled ${unkilled.ms} ms, commit at ${unkilled.commitAt} ms; ${outcomes.join(" ")}`,
    );
  }, 300_000);
});

describe("several loads into one store at once", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("end with every image present and a consistent store", async () => {
    const bundles = ["alpha", "beta", "gamma"].map((name) => bigBundle(tmp.dir, name, 2));
    const store = path.join(tmp.dir, "store");
    const runs = await Promise.all(
      bundles.map((bundle) => runFerry(["load", bundle, "--store", store])),
    );
    expect(runs.map((run) => run.code)).toEqual([0, 0, 0]);
    expect(expectConsistentStore(store)).toEqual([
      "test.example/alpha:1",
      "test.example/alpha:2",
      "test.example/beta:1",
      "test.example/beta:2",
      "test.example/gamma:1",
      "test.example/gamma:2",
    ]);
    expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
  }, 120_000);
});
