import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, spawnFerry, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";

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
  let bundle = "";
  beforeAll(() => {
    bundle = bigBundle(tmp.dir, "crash", 4);
  });
  afterAll(() => tmp.cleanup());

  it("leaves a consistent store, and the same load then completes (12 trials)", async () => {
    const expected = ["1", "2", "3", "4"].map((n) => `test.example/crash:${n}`);
    for (let trial = 0; trial < 12; trial++) {
      const store = path.join(tmp.dir, `store-${trial}`);
      const child = spawnFerry(["load", bundle, "--store", store]);
      const delay = 40 + Math.floor(Math.random() * 400);
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill("SIGKILL");
      await new Promise((resolve) => child.on("exit", resolve));
      // Killed before the store was created (no oci-layout yet): nothing to check but the re-run.
      if (existsSync(path.join(store, "oci-layout"))) {
        const present = expectConsistentStore(store);
        for (const ref of present) expect(expected).toContain(ref);
      }
      const again = ferry(["load", bundle, "--store", store]);
      expect(again.code, again.stderr).toBe(0);
      expect(expectConsistentStore(store)).toEqual(expected);
    }
  }, 120_000);
});

describe("several loads into one store at once", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("end with every image present and a consistent store", async () => {
    const bundles = ["alpha", "beta", "gamma"].map((name) => bigBundle(tmp.dir, name, 2));
    const store = path.join(tmp.dir, "store");
    const children = bundles.map((bundle) => spawnFerry(["load", bundle, "--store", store]));
    const codes = await Promise.all(
      children.map((child) => new Promise((resolve) => child.on("exit", resolve))),
    );
    expect(codes).toEqual([0, 0, 0]);
    expect(expectConsistentStore(store)).toEqual([
      "test.example/alpha:1",
      "test.example/alpha:2",
      "test.example/beta:1",
      "test.example/beta:2",
      "test.example/gamma:1",
      "test.example/gamma:2",
    ]);
    expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
  }, 60_000);
});
