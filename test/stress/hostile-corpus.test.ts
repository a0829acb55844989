/**
 * Issue 7, hostile input: a corpus of malicious zips, malformed manifests, malformed ferry.json
 * and malformed WIM headers, built at test time (test/helpers/corpus/). Each must be refused
 * by verify and by load (or by save, for WIMs) with the expected error code and a message
 * naming the problem, and nothing may be written anywhere: the store keeps its fingerprint and
 * no file appears in the test's temp tree. Bombs and huge entry counts must be refused with
 * little work: a CPU-time budget (not the clock, which a busy machine stretches).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES, type FerryError, isFerryError } from "../../src/errors.js";
import { loadBundle } from "../../src/ops/load.js";
import { saveBundle } from "../../src/ops/save.js";
import { verifyBundle } from "../../src/ops/verify.js";
import { openSource, parseSource } from "../../src/transports/table.js";
import { ferry, repoRoot } from "../helpers/cli.js";
import { forgeBundle, forgeImage } from "../helpers/corpus/forge-bundle.js";
import {
  EVIL,
  type Expectation,
  goodEntries,
  type HostileCase,
  hostileWimCases,
  hostileZipCases,
} from "../helpers/corpus/hostile.js";
import { buildZip } from "../helpers/corpus/raw-zip.js";
import { Rng, STRESS_FULL } from "../helpers/seeded.js";
import { listTree } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";
import { captureWindows, makeSourceTree } from "../helpers/wimtools.js";
import { HOSTILE_GAPS } from "./known-gaps.js";

const FULL = STRESS_FULL;

interface Answer {
  refused: boolean;
  code?: string;
  exitCode?: number;
  messages: string[];
  /**
   * CPU time this process spent getting the answer (all its threads), in ms: the work done,
   * which other processes on a busy machine do not stretch the way they stretch the clock.
   */
  ms: number;
}

/** CPU ms (user + system, every thread of this process) since `since`. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return Math.round((used.user + used.system) / 1000);
}

async function answer(run: () => Promise<unknown>): Promise<Answer> {
  const started = process.cpuUsage();
  try {
    const result = (await run()) as
      | { ok?: boolean; problems?: Array<{ code: string; message: string }> }
      | undefined;
    const ms = cpuMsSince(started);
    if (result && result.ok === false) {
      const problems = result.problems ?? [];
      return {
        refused: true,
        code: problems[0]?.code,
        messages: problems.map((p) => `${p.code} ${p.message}`),
        ms,
      };
    }
    return { refused: false, messages: ["accepted"], ms };
  } catch (error) {
    const ms = cpuMsSince(started);
    if (!isFerryError(error)) {
      return { refused: true, code: "not a FerryError", messages: [String(error)], ms };
    }
    const e = error as FerryError;
    return {
      refused: true,
      code: e.code,
      exitCode: e.exitCode,
      messages: [`${e.code} ${e.message}`],
      ms,
    };
  }
}

function expectRefusal(what: string, got: Answer, expected: Expectation, within?: number): void {
  const shown = `${what}: ${got.messages.slice(0, 3).join(" | ").slice(0, 600)}`;
  expect(got.refused, shown).toBe(true);
  expect(got.code, shown).not.toBe("not a FerryError");
  if (got.exitCode !== undefined) {
    expect(got.exitCode, shown).not.toBe(EXIT_CODES.INTERNAL);
    expect(expected.codes, shown).toContain(got.code);
  } else {
    // a verify report: one of its problems carries the expected code and message
    expect(
      got.messages.some((m) => expected.codes.some((c) => m.startsWith(`${c} `))),
      shown,
    ).toBe(true);
  }
  expect(
    got.messages.some((m) => expected.message.test(m)),
    shown,
  ).toBe(true);
  if (within !== undefined) {
    expect(got.ms, `${shown} took ${got.ms} ms of CPU`).toBeLessThan(within);
  }
}

describe("hostile input is refused with a clear error and nothing is written", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "ferry-stress-hostile-"));
  const store = path.join(root, "store");
  const pristine = path.join(root, "store-pristine");
  const cases = path.join(root, "cases");
  const goodWim = path.join(root, "good.wim");
  let before: Record<string, string> = {};

  beforeAll(async () => {
    mkdirSync(cases);
    const seed = path.join(root, "seed.zip");
    const image = forgeImage("forged.example/seed:1", [new Rng(1).bytes(2048)]);
    writeFileSync(seed, buildZip(forgeBundle([image]).entries));
    await loadBundle(seed, { storeDir: store });
    cpSync(store, pristine, { recursive: true });
    before = fingerprint(store);
    const tree = await makeSourceTree(path.join(root, "wim-tree"));
    await captureWindows(tree, goodWim, "NanoServer", "10.0.20348.2113", { compress: "LZX" });
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("the forger's own good bundle verifies and loads (so refusals below come from the edits)", async () => {
    const good = path.join(root, "forged-good.zip");
    writeFileSync(good, buildZip(goodEntries()));
    const report = await verifyBundle(good);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const scratch = path.join(root, "scratch-store");
    const loaded = await loadBundle(good, { storeDir: scratch });
    expect(loaded.images.map((i) => i.ref)).toEqual(["forged.example/app:1"]);
    rmSync(scratch, { recursive: true, force: true });
    rmSync(good);
  });

  /** Run one case; check the answer and that nothing was written. */
  async function runBundleCase(c: HostileCase): Promise<void> {
    const dir = path.join(cases, c.name);
    mkdirSync(dir);
    const input = await c.build(dir);
    const tree = listTree(root);
    const gap = HOSTILE_GAPS[c.name];
    try {
      if (!c.fullOnlyVerify || FULL) {
        const verify = await answer(() => verifyBundle(input));
        if (!gap?.verify) {
          expectRefusal(`verify ${c.name}`, verify, c.verifyExpect ?? c.expect, c.within);
        }
      }
      const load = await answer(() => loadBundle(input, { storeDir: store }));
      if (!gap?.load) {
        expectRefusal(`load ${c.name}`, load, c.expect, c.within);
        expect(fingerprint(store), `load ${c.name} changed the store`).toEqual(before);
      }
      if (!gap?.load) expect(listTree(root), "files appeared or went").toEqual(tree);
      expect(listTree(path.join(store, ".ferry", "tmp")), "staging left behind").toEqual([]);
      for (const bad of [...(c.mustNotExist ?? []), EVIL, `../${EVIL}`]) {
        for (const base of [
          dir,
          store,
          path.join(store, "blobs", "sha256"),
          repoRoot,
          os.tmpdir(),
        ]) {
          expect(existsSync(path.resolve(base, bad)), `${bad} from ${base}`).toBe(false);
        }
      }
    } finally {
      if (JSON.stringify(fingerprint(store)) !== JSON.stringify(before)) {
        rmSync(store, { recursive: true, force: true });
        cpSync(pristine, store, { recursive: true });
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }

  for (const c of hostileZipCases(FULL)) {
    it(`${c.category}: ${c.name}`, () => runBundleCase(c), 120_000);
  }

  for (const c of hostileWimCases(() => goodWim)) {
    it(`${c.category}: ${c.name} (save refuses it, writes no bundle and no temp file)`, async () => {
      const dir = path.join(cases, c.name);
      mkdirSync(dir);
      const input = await c.build(dir);
      const tree = listTree(root);
      const output = path.join(dir, "out.zip");
      const got = await answer(async () => {
        const source = await openSource(parseSource(input), { tempDir: dir });
        return saveBundle([{ source, platforms: "all" }], { output, tool: "ferry stress-test" });
      });
      expectRefusal(`save ${c.name}`, got, c.expect, c.within);
      expect(existsSync(output)).toBe(false);
      expect(listTree(root)).toEqual(tree);
      rmSync(dir, { recursive: true, force: true });
    }, 60_000);
  }

  it("the CLI gives the documented exit code and names the problem (one case per kind)", () => {
    // [case, message, exit code of load, of verify]
    const picks: Array<[string, RegExp, number, number]> = [
      ["traversal", /is not allowed: parent-directory/, 3, 3],
      ["deflate-bomb-blob", /size mismatch/, 3, 3],
      ["eocd-claims-2000000-entries", /2000000 entries/, 3, 3],
      // EUNSUPPORTED maps to exit 2 when load meets it; verify reports it as a bad bundle (3)
      ["manifest-schema-1", /schema 1/, 2, 3],
    ];
    const all = hostileZipCases(false);
    for (const [name, message, loadExit, verifyExit] of picks) {
      const c = all.find((x) => x.name === name) as HostileCase;
      const dir = path.join(cases, `cli-${name}`);
      mkdirSync(dir);
      const input = c.build(dir) as string;
      const load = ferry(["load", input, "--store", store]);
      expect(load.code, load.stderr).toBe(loadExit);
      expect(load.stderr).toMatch(message);
      expect(load.stderr).toMatch(/hint:|nothing was written|error \[/);
      const verify = ferry(["verify", input]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(verifyExit);
      expect(verify.stdout + verify.stderr).toMatch(message);
      expect(fingerprint(store)).toEqual(before);
      rmSync(dir, { recursive: true, force: true });
    }
    const wim = hostileWimCases(() => goodWim).find(
      (x) => x.name === "wim-random-bytes",
    ) as HostileCase;
    const dir = path.join(cases, "cli-wim");
    mkdirSync(dir);
    const input = wim.build(dir) as string;
    const save = ferry(["save", input, "-o", path.join(dir, "out.zip")]);
    expect(save.code).toBe(3);
    expect(save.stderr).toMatch(/EBADWIM.*not a WIM file/);
    expect(listTree(dir)).toEqual([path.basename(input)]);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
