/**
 * Issue 7, parity volumes (`save --split --parity`): seeded single-byte flips
 * - in the parity volume: verify still passes (the parts are intact) but names the damaged
 *   parity volume; load installs exactly what a clean load installs; `ferry repair` rebuilds
 *   the parity volume byte for byte;
 * - in one data part: verify and load refuse, naming that part, and the store is unchanged;
 *   `ferry repair` rebuilds the part byte for byte and verify passes again;
 * - in two data parts at once: repair refuses (XOR parity rebuilds one part) and changes no file.
 * FERRY_STRESS=full runs three times as many flips.
 */
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, repoRoot, tempDir } from "../helpers/cli.js";
import { Rng, STRESS_FULL, stressFile } from "../helpers/seeded.js";
import { seededLayout } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";

const FULL = STRESS_FULL;
const { seed: SEED } = stressFile();
const FLIPS = FULL ? 24 : 8;
const DOUBLE_DAMAGE = FULL ? 9 : 3;

function flipByte(file: string, rng: Rng): number {
  const bytes = readFileSync(file);
  const at = Math.floor(rng.next() * bytes.length);
  bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(rng.next() * 8));
  writeFileSync(file, bytes);
  return at;
}

describe("flips in split volumes with a parity volume", () => {
  const work = tempDir();
  const pristine = path.join(work.dir, "pristine");
  const cleanStore = path.join(work.dir, "store-clean");
  /** A store holding another image, for "the store is unchanged" checks. */
  const seededStore = path.join(work.dir, "store-seeded");
  let partNames: string[] = [];
  let original: Record<string, string> = {};

  /** A fresh copy of the pristine volumes, for one trial. */
  function copyVolumes(name: string): string {
    const dir = path.join(work.dir, name);
    mkdirSync(dir);
    for (const file of readdirSync(pristine)) {
      copyFileSync(path.join(pristine, file), path.join(dir, file));
    }
    return dir;
  }

  beforeAll(() => {
    const layout = path.join(work.dir, "layout");
    seededLayout(
      layout,
      { repository: "stress.example/parity", images: 3, base: 600_000, own: 300_000 },
      new Rng(SEED).fork("parity-layout"),
    );
    mkdirSync(pristine);
    const saved = ferry(
      ["save", `oci:${layout}`, "-o", path.join(pristine, "b.zip"), "--split", "256K"].concat([
        "--parity",
        "-q",
      ]),
    );
    expect(saved.code, saved.stderr).toBe(0);
    partNames = readdirSync(pristine).filter((f) => /^b\.zip\.\d{3}$/.test(f));
    expect(partNames.length).toBeGreaterThanOrEqual(4);
    original = fingerprint(pristine);
    const sample = path.join(work.dir, "sample.zip");
    expect(
      ferry(["save", `oci:${path.join(repoRoot, "samples", "oci")}`, "-o", sample, "-q"]).code,
    ).toBe(0);
    expect(ferry(["load", sample, "--store", seededStore, "-q"]).code).toBe(0);
    expect(
      ferry(["load", path.join(pristine, "b.zip.parts"), "--store", cleanStore, "-q"]).code,
    ).toBe(0);
  }, 120_000);
  afterAll(() => work.cleanup());

  it(`${FLIPS} flips in the parity volume: noted by verify, harmless to load, repaired`, () => {
    const rng = new Rng(SEED).fork("parity-flips");
    for (let trial = 0; trial < FLIPS; trial++) {
      const dir = copyVolumes(`parity-${trial}`);
      const at = flipByte(path.join(dir, "b.zip.parity"), rng);
      const what = `parity volume flipped at ${at}`;
      const verify = ferry(["verify", path.join(dir, "b.zip.parts")]);
      expect(verify.code, `${what}: ${verify.stderr}`).toBe(0);
      expect(verify.stdout + verify.stderr, what).toMatch(
        /b\.zip\.parity \(the parity volume\) is damaged/,
      );
      const store = path.join(dir, "store");
      const load = ferry(["load", path.join(dir, "b.zip.parts"), "--store", store, "-q"]);
      expect(load.code, `${what}: ${load.stderr}`).toBe(0);
      expect(fingerprint(store), what).toEqual(fingerprint(cleanStore));
      const repair = ferry(["repair", path.join(dir, "b.zip.parts")]);
      expect(repair.code, `${what}: ${repair.stderr}`).toBe(0);
      rmSync(store, { recursive: true, force: true });
      expect(fingerprint(dir), what).toEqual(original);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it(`${FLIPS} flips in one data part: verify and load name the part, repair rebuilds it`, () => {
    const rng = new Rng(SEED).fork("part-flips");
    for (let trial = 0; trial < FLIPS; trial++) {
      const dir = copyVolumes(`part-${trial}`);
      const part = partNames[Math.floor(rng.next() * partNames.length)] as string;
      const at = flipByte(path.join(dir, part), rng);
      const what = `${part} flipped at ${at}`;
      const verify = ferry(["verify", path.join(dir, "b.zip.parts")]);
      expect(verify.code, what).not.toBe(0);
      expect(verify.stdout + verify.stderr, what).toContain(part);
      const store = path.join(dir, "store");
      cpSync(seededStore, store, { recursive: true });
      const before = fingerprint(store);
      const load = ferry(["load", path.join(dir, "b.zip.parts"), "--store", store, "-q"]);
      expect(load.code, what).not.toBe(0);
      expect(load.stderr, what).toContain(part);
      expect(fingerprint(store), what).toEqual(before);
      rmSync(store, { recursive: true, force: true });
      const repair = ferry(["repair", path.join(dir, "b.zip.parts")]);
      expect(repair.code, `${what}: ${repair.stderr}`).toBe(0);
      expect(fingerprint(dir), what).toEqual(original);
      expect(ferry(["verify", path.join(dir, "b.zip.parts"), "-q"]).code, what).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it(`${DOUBLE_DAMAGE} cases of two damaged parts: repair refuses and changes nothing`, () => {
    const rng = new Rng(SEED).fork("double-flips");
    for (let trial = 0; trial < DOUBLE_DAMAGE; trial++) {
      const dir = copyVolumes(`double-${trial}`);
      const first = Math.floor(rng.next() * partNames.length);
      const second =
        (first + 1 + Math.floor(rng.next() * (partNames.length - 1))) % partNames.length;
      const damaged = [partNames[first] as string, partNames[second] as string];
      for (const part of damaged) flipByte(path.join(dir, part), rng);
      const what = `${damaged.join(" and ")} damaged`;
      const before = fingerprint(dir);
      const repair = ferry(["repair", path.join(dir, "b.zip.parts")]);
      expect(repair.code, what).not.toBe(0);
      for (const part of damaged) expect(repair.stdout + repair.stderr, what).toContain(part);
      expect(fingerprint(dir), what).toEqual(before);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
