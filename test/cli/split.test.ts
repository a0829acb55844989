import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, run, tempDir } from "../helpers/cli.js";
import { threeImageLayout } from "../helpers/oci-layout.js";
import { fingerprint } from "../helpers/tree.js";

const PART = 96 * 1024;

interface PartsFile {
  schema: string;
  bundle: string;
  id: string;
  size: number;
  partSize: number;
  parts: Array<{ name: string; size: number; sha256: string }>;
  parity: { scheme: string; name: string; size: number; sha256: string } | null;
}

interface VerifyJson {
  ok: boolean;
  problems: Array<{ subject: string; code: string; message: string }>;
  split?: {
    partsOk: boolean;
    repair: { possible: boolean; command: string | null; reason: string } | null;
    notes: string[];
  };
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** name -> sha256, size and mtime of every file in a folder (to prove nothing changed). */
function snapshot(dir: string): Record<string, { sha256: string; size: number; mtimeMs: number }> {
  const result: Record<string, { sha256: string; size: number; mtimeMs: number }> = {};
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const info = statSync(file);
    result[name] = { sha256: sha256(file), size: info.size, mtimeMs: info.mtimeMs };
  }
  return result;
}

describe("save --split / --parity, then verify, load, inspect and repair from the parts", () => {
  const tmp = tempDir("ferry-split-");
  const layout = path.join(tmp.dir, "layout");
  const usb = path.join(tmp.dir, "usb");
  const plain = path.join(tmp.dir, "plain");
  const bundle = path.join(usb, "nightly.zip");
  const partsFile = `${bundle}.parts`;
  const joined = path.join(tmp.dir, "joined.zip");
  let parts: PartsFile;
  let pristine: ReturnType<typeof snapshot>;

  beforeAll(() => {
    threeImageLayout(layout, { base: 192 * 1024, own: 40 * 1024 });
    mkdirSync(usb);
    mkdirSync(plain);
    const saved = ferryJson<{ parts: PartsFile; bundle: string }>([
      "save",
      `oci:${layout}`,
      "-o",
      bundle,
      "--split",
      "96K",
      "--parity",
    ]);
    expect(saved.code, saved.stderr).toBe(0);
    parts = saved.json.parts;
    pristine = snapshot(usb);
    cpSync(usb, path.join(tmp.dir, "pristine"), { recursive: true });
    // The parts joined: the unsplit bundle they are a byte split of.
    writeFileSync(
      joined,
      Buffer.concat(parts.parts.map((p) => readFileSync(path.join(usb, p.name)))),
    );
  });
  afterAll(() => {
    chmodSync(usb, 0o755);
    tmp.cleanup();
  });

  /**
   * A copy of the stick as it was saved, for a test that deletes, damages or locks parts:
   * no test sees another's changes, so any runs alone (`-t`) or in any order.
   */
  function stickFor(name: string): { usb: string; bundle: string; partsFile: string } {
    const copy = path.join(tmp.dir, `stick-${name}`, "usb");
    cpSync(path.join(tmp.dir, "pristine"), copy, { recursive: true });
    const copied = path.join(copy, "nightly.zip");
    return { usb: copy, bundle: copied, partsFile: `${copied}.parts` };
  }

  it("writes parts .001, .002, ... of exactly the part size, the .parts file and parity; nothing else", () => {
    expect(snapshot(usb)).toEqual(pristine);
    const files = readdirSync(usb).sort();
    const count = parts.parts.length;
    expect(count).toBe(4);
    expect(files).toEqual([
      ...parts.parts.map((p) => p.name),
      "nightly.zip.parity",
      "nightly.zip.parts",
    ]);
    expect(parts.parts.map((p) => p.name)[0]).toBe("nightly.zip.001");
    expect(parts.schema).toBe("ferry.parts/v1");
    expect(parts.partSize).toBe(PART);
    expect(parts.size).toBe(parts.parts.reduce((sum, p) => sum + p.size, 0));
    parts.parts.forEach((part, index) => {
      const file = path.join(usb, part.name);
      expect(statSync(file).size).toBe(part.size);
      if (index < count - 1) expect(part.size).toBe(PART);
      expect(sha256(file)).toBe(part.sha256);
    });
    expect(JSON.parse(readFileSync(partsFile, "utf8"))).toEqual(parts);
    // The parity volume is the XOR of the parts, zero-padded.
    const parity = Buffer.alloc(PART);
    for (const part of parts.parts) {
      readFileSync(path.join(usb, part.name)).forEach((byte, i) => {
        parity[i] = (parity[i] as number) ^ byte;
      });
    }
    expect(readFileSync(path.join(usb, "nightly.zip.parity")).equals(parity)).toBe(true);
    expect(parts.parity).toMatchObject({ scheme: "xor", name: "nightly.zip.parity", size: PART });
    // The parts are a plain byte split of a plain zip, and the bundle id is ferry.json's.
    expect(run("unzip", ["-tq", joined]).code).toBe(0);
    const inspected = ferryJson<{ id: string }>(["inspect", joined]);
    expect(inspected.json.id).toBe(parts.id);
  });

  it("verify, inspect and load read the parts in place and change nothing (read-only folder)", () => {
    const { usb, bundle, partsFile } = stickFor("read-only");
    const before = snapshot(usb);
    for (const input of [partsFile, `${bundle}.001`]) {
      const verified = ferryJson<VerifyJson>(["verify", input]);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.json.ok).toBe(true);
      expect(verified.json.split?.partsOk).toBe(true);
    }
    chmodSync(usb, 0o555);
    try {
      const inspected = ferryJson<{ images: unknown[]; split: { parts: number } }>([
        "inspect",
        partsFile,
      ]);
      expect(inspected.code, inspected.stderr).toBe(0);
      expect(inspected.json.images).toHaveLength(3);
      expect(inspected.json.split.parts).toBe(parts.parts.length);
      const store = path.join(tmp.dir, "store");
      const loaded = ferryJson<{ images: Array<{ status: string }> }>([
        "load",
        partsFile,
        "--store",
        store,
      ]);
      expect(loaded.code, loaded.stderr).toBe(0);
      expect(loaded.json.images.map((i) => i.status)).toEqual(["new", "new", "new"]);
      // Tests run as root, whom 0555 does not stop: prove it by what is (not) there.
      expect(snapshot(usb)).toEqual(before);
      // The same store as loading the unsplit bundle.
      const single = path.join(plain, "single.zip");
      copyFileSync(joined, single);
      const other = path.join(tmp.dir, "store-single");
      expect(ferry(["load", single, "--store", other, "-q"]).code).toBe(0);
      const a = fingerprint(store);
      const b = fingerprint(other);
      expect(Object.keys(a).length).toBeGreaterThan(5);
      expect(a).toEqual(b);
    } finally {
      chmodSync(usb, 0o755);
    }
  });

  it("each part deleted in turn is named by verify (exit 3) and rebuilt by repair --out to the same bytes", () => {
    const { usb, partsFile } = stickFor("deleted");
    const out = path.join(tmp.dir, "out");
    for (const part of parts.parts) {
      const file = path.join(usb, part.name);
      rmSync(file);
      const verified = ferryJson<VerifyJson>(["verify", partsFile]);
      expect(verified.code).toBe(3);
      expect(verified.json.problems.map((p) => p.subject)).toEqual([part.name]);
      expect(verified.json.problems[0]?.code).toBe("ENOTFOUND");
      expect(verified.json.split?.repair?.possible).toBe(true);
      expect(verified.json.split?.repair?.command).toBe(`ferry repair ${partsFile}`);
      if (part === parts.parts[0]) {
        const human = ferry(["verify", partsFile]);
        expect(human.stdout).toContain(`${part.name} (part 1 of ${parts.parts.length}) is missing`);
        expect(human.stdout).toContain("REPAIRABLE");
        expect(human.stdout).toContain(`ferry repair ${partsFile}`);
      }
      const repaired = ferryJson<{ rebuilt: { name: string; path: string } }>([
        "repair",
        partsFile,
        "--out",
        out,
      ]);
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(repaired.json.rebuilt.name).toBe(part.name);
      expect(sha256(path.join(out, part.name))).toBe(part.sha256);
      // Only the rebuilt file was written, and only into --out.
      expect(existsSync(file)).toBe(false);
      renameSync(path.join(out, part.name), file);
    }
    expect(snapshot(usb)).toEqual(
      Object.fromEntries(
        Object.entries(pristine).map(([name, facts]) => [
          name,
          { ...facts, mtimeMs: statSync(path.join(usb, name)).mtimeMs },
        ]),
      ),
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it("each part damaged in turn (same size) is named by its sha256 and repaired in place", () => {
    const { usb, bundle, partsFile } = stickFor("damaged");
    for (const part of parts.parts) {
      const file = path.join(usb, part.name);
      const bytes = readFileSync(file);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] as number) ^ 0x5a;
      writeFileSync(file, bytes);
      const verified = ferryJson<VerifyJson>(["verify", `${bundle}.001`]);
      expect(verified.code).toBe(3);
      expect(verified.json.problems).toHaveLength(1);
      expect(verified.json.problems[0]).toMatchObject({ subject: part.name, code: "EINTEGRITY" });
      expect(verified.json.problems[0]?.message).toContain("is damaged: its sha256 is");
      const repaired = ferry(["repair", partsFile]);
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(repaired.stdout).toContain(`REBUILT ${file}`);
      expect(sha256(file)).toBe(part.sha256);
    }
    expect(readdirSync(usb).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(ferry(["verify", partsFile, "-q"]).code).toBe(0);
  });

  it("load from a damaged part fails, names what to run, and leaves the store as it was", () => {
    const { usb, partsFile } = stickFor("load-damaged");
    const store = path.join(tmp.dir, "store-damaged");
    const file = path.join(usb, parts.parts[1]?.name as string);
    const bytes = readFileSync(file);
    bytes[1000] = (bytes[1000] as number) ^ 0xff;
    writeFileSync(file, bytes);
    const loaded = ferry(["load", partsFile, "--store", store]);
    expect(loaded.code).toBe(3);
    expect(loaded.stderr).toMatch(/nightly\.zip\.002|ferry verify/);
    expect(Object.keys(fingerprint(store)).filter((f) => f.startsWith("blobs"))).toEqual([]);
    const index = path.join(store, "index.json");
    if (existsSync(index)) expect(JSON.parse(readFileSync(index, "utf8")).manifests).toEqual([]);
  });

  it("a lost parity volume does not fail verify, and repair rebuilds it", () => {
    const { usb, partsFile } = stickFor("lost-parity");
    const parity = path.join(usb, "nightly.zip.parity");
    rmSync(parity);
    const verified = ferryJson<VerifyJson>(["verify", partsFile]);
    expect(verified.code).toBe(0);
    expect(verified.json.split?.notes.join("\n")).toContain("nightly.zip.parity");
    expect(ferry(["repair", partsFile]).code).toBe(0);
    expect(sha256(parity)).toBe(parts.parity?.sha256);
  });

  it("two bad volumes: verify and repair say parity rebuilds only one", () => {
    const { usb, partsFile } = stickFor("two-bad");
    rmSync(path.join(usb, parts.parts[0]?.name as string));
    rmSync(path.join(usb, parts.parts[2]?.name as string));
    const verified = ferryJson<VerifyJson>(["verify", partsFile]);
    expect(verified.code).toBe(3);
    expect(verified.json.problems.map((p) => p.subject)).toEqual([
      parts.parts[0]?.name,
      parts.parts[2]?.name,
    ]);
    expect(verified.json.split?.repair?.possible).toBe(false);
    const repaired = ferry(["repair", partsFile]);
    expect(repaired.code).toBe(3);
    expect(repaired.stderr).toContain("XOR parity rebuilds only one");
    expect(readdirSync(usb).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("split without parity; failed saves; flags", () => {
  const tmp = tempDir("ferry-split-np-");
  const layout = path.join(tmp.dir, "layout");
  afterAll(() => tmp.cleanup());
  beforeAll(() => {
    threeImageLayout(layout, { base: 64 * 1024, own: 16 * 1024 });
  });

  it("without parity, verify names the lost part and repair says it cannot, and why", () => {
    const dir = path.join(tmp.dir, "np");
    mkdirSync(dir);
    const bundle = path.join(dir, "b.zip");
    expect(ferry(["save", `oci:${layout}`, "-o", bundle, "--split", "32K", "-q"]).code).toBe(0);
    expect(existsSync(`${bundle}.parity`)).toBe(false);
    rmSync(`${bundle}.002`);
    const verified = ferry(["verify", `${bundle}.parts`]);
    expect(verified.code).toBe(3);
    expect(verified.stdout).toContain("b.zip.002 (part 2 of");
    expect(verified.stdout).toContain("NOT REPAIRABLE");
    expect(verified.stdout).toContain("saved without --parity");
    const repaired = ferry(["repair", `${bundle}.parts`]);
    expect(repaired.code).toBe(3);
    expect(repaired.stderr).toContain("b.zip.002");
    expect(repaired.stderr).toContain("saved without --parity");
    const left = readdirSync(dir);
    expect(left).toContain("b.zip.003");
    expect(left.filter((f) => !/^b\.zip\.(\d{3}|parts)$/.test(f))).toEqual([]);
    expect(left).not.toContain("b.zip.002");
  });

  it("a failed save leaves no part, no parity, no .parts, no temp file", () => {
    const broken = path.join(tmp.dir, "broken");
    cpSync(layout, broken, { recursive: true });
    // Corrupt the largest blob: the copy fails after parts were written.
    const blobs = path.join(broken, "blobs", "sha256");
    const largest = readdirSync(blobs).sort(
      (a, b) => statSync(path.join(blobs, b)).size - statSync(path.join(blobs, a)).size,
    )[0] as string;
    const bytes = readFileSync(path.join(blobs, largest));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    writeFileSync(path.join(blobs, largest), bytes);
    const dir = path.join(tmp.dir, "failed");
    mkdirSync(dir);
    const result = ferry([
      "save",
      `oci:${broken}`,
      "-o",
      path.join(dir, "b.zip"),
      "--split",
      "8K",
      "--parity",
    ]);
    expect(result.code).toBe(3);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("--split sizes and --parity are checked at the command line", () => {
    const out = path.join(tmp.dir, "x.zip");
    const bad = ferry(["save", `oci:${layout}`, "-o", out, "--split", "12X"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("700M");
    const tiny = ferry(["save", `oci:${layout}`, "-o", out, "--split", "100"]);
    expect(tiny.code).toBe(2);
    const parity = ferry(["save", `oci:${layout}`, "-o", out, "--parity"]);
    expect(parity.code).toBe(2);
    expect(parity.stderr).toContain("--parity needs --split");
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith("x.zip"))).toEqual([]);
  });

  it("--split fat32 keeps a small bundle in one part of at most 4294967295 bytes", () => {
    const dir = path.join(tmp.dir, "fat");
    mkdirSync(dir);
    const saved = ferryJson<{ parts: PartsFile }>([
      "save",
      `oci:${layout}`,
      "-o",
      path.join(dir, "b.zip"),
      "--split",
      "fat32",
    ]);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.json.parts.partSize).toBe(4294967295);
    expect(saved.json.parts.parts).toHaveLength(1);
    expect(readdirSync(dir).sort()).toEqual(["b.zip.001", "b.zip.parts"]);
  });
});
