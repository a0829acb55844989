/**
 * Issue 7, corruption: single-byte flips (xor 0xff) and cuts across every region of real
 * bundles — unsigned, signed (read with the signer's key trusted), and split volumes with
 * their `.parts` file — each run through verify and load in-process. Every case must be
 * caught by both, with the store (pre-populated with another image) byte-identical after
 * the failed load and no staging directory or lock left behind. Cases are chosen from a seed
 * (FERRY_STRESS_SEED, printed) so a failure reproduces; FERRY_STRESS=full takes more of them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonPaths } from "../helpers/json-paths.js";
import { STRESS_FULL, stressFile } from "../helpers/seeded.js";
import {
  buildFixtures,
  type Case,
  describeOutcome,
  type Fixtures,
  flipCases,
  formatRegionTable,
  type Outcome,
  regionTable,
  runCase,
  truncateCases,
} from "./corruption-lib.js";
import { gapFor } from "./known-gaps.js";

const FULL = STRESS_FULL;
const { seed: SEED, timeout: TIMEOUT } = stressFile();

/** Check every outcome; return what is wrong with each bad one. */
function judge(outcomes: Outcome[], fixtures: Fixtures): string[] {
  const failures: string[] = [];
  for (const o of outcomes) {
    const gap = gapFor(o, fixtures);
    const wrong: string[] = [];
    if (!o.verifyCaught && !gap?.misses.verify) wrong.push("verify did not catch it");
    if (!o.loadCaught && !gap?.misses.load) wrong.push("load did not catch it");
    if (o.loadCaught && !o.storeUnchanged) wrong.push("the failed load changed the store");
    if (o.leftovers.length > 0) wrong.push(`the load left ${o.leftovers.join(", ")}`);
    if (!o.loadCaught && o.installedIntact === false) {
      wrong.push("the load installed damaged blobs");
    }
    if (wrong.length > 0) failures.push(`${describeOutcome(o)}\n    -> ${wrong.join("; ")}`);
  }
  return failures;
}

function report(title: string, outcomes: Outcome[], fixtures: Fixtures): void {
  console.log(
    formatRegionTable(`${title} (seed ${SEED}${FULL ? ", full" : ""})`, regionTable(outcomes)),
  );
  const excused = outcomes.filter((o) => (!o.verifyCaught || !o.loadCaught) && gapFor(o, fixtures));
  if (excused.length > 0) {
    console.log(
      `known gaps (test/stress/known-gaps.ts), ${excused.length} case(s):\n${excused
        .map((o) => `  [${gapFor(o, fixtures)?.id}] ${describeOutcome(o)}`)
        .join("\n")}`,
    );
  }
}

async function runAll(fixtures: Fixtures, cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const c of cases) outcomes.push(await runCase(fixtures, c));
  return outcomes;
}

describe("every damaged byte and every cut of a real bundle is caught by verify and by load", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "ferry-stress-corrupt-"));
  let fixtures: Fixtures;

  beforeAll(async () => {
    fixtures = await buildFixtures(root, SEED);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it(
    "single-byte flips in every region (unsigned, signed with --trust, split + .parts)",
    async () => {
      const cases = flipCases(fixtures, SEED, FULL);
      expect(cases.length).toBeGreaterThanOrEqual(200);
      for (const variant of ["unsigned", "signed", "split"]) {
        expect(cases.filter((c) => c.variant === variant).length).toBeGreaterThan(20);
      }
      const regions = new Set(cases.map((c) => c.region));
      for (const region of [
        "local header",
        "central directory",
        "end of central directory",
        "ferry.json",
        "SHA256SUMS",
        "index.json",
        "oci-layout",
        "ferry.json.sig",
        ".parts",
        "blob data",
      ]) {
        expect(regions, `no case in ${region}`).toContain(region);
      }
      const outcomes = await runAll(fixtures, cases);
      report("byte flips", outcomes, fixtures);
      expect(judge(outcomes, fixtures)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    "cuts at every region boundary and at seeded offsets (and of every part and .parts)",
    async () => {
      const cases = truncateCases(fixtures, SEED, FULL);
      expect(cases.length).toBeGreaterThanOrEqual(100);
      const outcomes = await runAll(fixtures, cases);
      report("truncations", outcomes, fixtures);
      expect(judge(outcomes, fixtures)).toEqual([]);
    },
    TIMEOUT,
  );
});

describe("split .parts regressions (once known gaps, fixed in src/)", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "ferry-stress-parts-"));
  let fixtures: Fixtures;
  let parts: Buffer;
  beforeAll(async () => {
    fixtures = await buildFixtures(root, SEED);
    parts = fixtures.variants.split.files.get("bundle.zip.parts") as Buffer;
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const partsCase = (kind: Case["kind"], offset: number, field: string): Case => ({
    id: `split:${kind}:bundle.zip.parts@${offset}`,
    variant: "split",
    kind,
    region: ".parts",
    field,
    file: "bundle.zip.parts",
    offset,
  });

  it("load refuses a .parts whose bundle id was damaged, as verify does", async () => {
    const first = jsonPaths(parts).indexOf("id");
    const outcome = await runCase(fixtures, partsCase("flip", first + 1, "id"));
    expect(outcome.verifyCaught, describeOutcome(outcome)).toBe(true);
    expect(outcome.loadCaught, describeOutcome(outcome)).toBe(true);
    expect(outcome.storeUnchanged).toBe(true);
    expect(outcome.leftovers).toEqual([]);
  });

  it("verify and load refuse a .parts cut by its last byte (the trailing newline)", async () => {
    const outcome = await runCase(fixtures, partsCase("truncate", parts.length - 1, "(syntax)"));
    expect(outcome.verifyCaught, describeOutcome(outcome)).toBe(true);
    expect(outcome.loadCaught, describeOutcome(outcome)).toBe(true);
    expect(outcome.storeUnchanged).toBe(true);
  });
});
