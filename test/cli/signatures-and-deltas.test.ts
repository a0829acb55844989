import { mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, repoRoot, run, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { fingerprint } from "../helpers/tree.js";

const craft = path.join(repoRoot, "test", "helpers", "craft_zip.py");
const samples = path.join(repoRoot, "samples", "oci");

describe("signed bundles", () => {
  const tmp = tempDir();
  const key = path.join(tmp.dir, "signer");
  const other = path.join(tmp.dir, "other");
  const signed = path.join(tmp.dir, "signed.zip");
  const store = path.join(tmp.dir, "store");

  beforeAll(() => {
    expect(ferry(["keygen", "-o", key]).code).toBe(0);
    expect(ferry(["keygen", "-o", other]).code).toBe(0);
    const save = ferryJson<{ signedBy: string }>([
      "save",
      `oci:${samples}`,
      "-o",
      signed,
      "--sign",
      key,
    ]);
    expect(save.code).toBe(0);
    expect(save.json.signedBy).toMatch(/^[0-9a-f]{32}$/);
  });
  afterAll(() => tmp.cleanup());

  it("keygen writes the private key 0600 and refuses to overwrite it", () => {
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${key}.pub`, "utf8")).toMatch(/BEGIN PUBLIC KEY/);
    const again = ferry(["keygen", "-o", key]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });

  it("verifies and loads with the signer's key, by file or trust folder", () => {
    const verify = ferryJson<{ ok: boolean; signature: { verified: boolean } }>([
      "verify",
      signed,
      "--trust",
      `${key}.pub`,
    ]);
    expect(verify.code).toBe(0);
    expect(verify.json.signature.verified).toBe(true);
    const trustDir = path.join(tmp.dir, "trust.d");
    mkdirSync(trustDir);
    run("cp", [`${key}.pub`, `${other}.pub`, trustDir]);
    expect(ferry(["load", signed, "--store", store, "--trust-dir", trustDir]).code).toBe(0);
    expect(ferry(["verify", signed], { env: { FERRY_TRUST_DIR: trustDir } }).code).toBe(0);
  });

  it("refuses an unsigned bundle, another key's signature, and a re-hashed ferry.json before writing", () => {
    // A store of its own holding the signed bundle: refusals must leave it as it was.
    const store = path.join(tmp.dir, "store-refusals");
    const loaded = ferry(["load", signed, "--store", store, "--trust", `${key}.pub`]);
    expect(loaded.code, loaded.stderr).toBe(0);
    const before = fingerprint(store);
    const unsigned = path.join(tmp.dir, "unsigned.zip");
    expect(ferry(["save", `oci:${samples}`, "-o", unsigned]).code).toBe(0);
    const tampered = path.join(tmp.dir, "tampered.zip");
    expect(run("python3", [craft, signed, tampered, "rehash-ferry-json"]).code).toBe(0);
    // Without trust the tampered bundle is self-consistent: only the signature can tell.
    expect(ferry(["verify", tampered]).code).toBe(0);
    const cases: Array<[string, string[], RegExp]> = [
      [unsigned, ["--trust", `${key}.pub`], /is not signed/],
      [signed, ["--trust", `${other}.pub`], /which is not trusted/],
      [tampered, ["--trust", `${key}.pub`], /altered after signing/],
    ];
    for (const [bundle, trust, message] of cases) {
      const load = ferry(["load", bundle, "--store", store, ...trust]);
      expect(load.code, load.stderr).toBe(6);
      expect(load.stderr).toMatch(message);
      const verify = ferry(["verify", bundle, ...trust]);
      expect(verify.code).toBe(6);
      expect(fingerprint(store)).toEqual(before);
    }
  });
});

describe("signed split bundles", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("sign the .parts file too: a missing or foreign .parts signature is refused", () => {
    const key = path.join(tmp.dir, "k");
    expect(ferry(["keygen", "-o", key]).code).toBe(0);
    const bundle = path.join(tmp.dir, "s.zip");
    const saved = ferry(["save", `oci:${samples}`, "-o", bundle, "--sign", key, "--split", "4K"]);
    expect(saved.code, saved.stderr).toBe(0);
    const parts = `${bundle}.parts`;
    expect(ferry(["verify", parts, "--trust", `${key}.pub`]).code).toBe(0);
    const store = path.join(tmp.dir, "store");
    run("mv", [`${parts}.sig`, `${parts}.sig.away`]);
    const load = ferry(["load", parts, "--store", store, "--trust", `${key}.pub`]);
    expect(load.code).toBe(6);
    expect(load.stderr).toContain("s.zip.parts.sig is missing next to s.zip.parts: with --trust");
    expect(load.stderr).not.toContain("drop --trust");
    run("mv", [`${parts}.sig.away`, `${parts}.sig`]);
    expect(ferry(["load", parts, "--store", store, "--trust", `${key}.pub`]).code).toBe(0);
  });
});

describe("delta bundles (--since) and have-lists", () => {
  const tmp = tempDir();
  const layoutDir = path.join(tmp.dir, "layout");
  const base = randomLayer(512 * 1024);
  const changing = randomLayer(256 * 1024);

  function writeLayout(appLayer: Buffer, dir = layoutDir) {
    run("rm", ["-rf", dir]);
    const layout = createLayout(dir);
    layout.tag("test.example/stable:1", layout.image({ layers: [base] }));
    layout.tag("test.example/app:1", layout.image({ layers: [base, appLayer] }));
    layout.finish();
  }

  afterAll(() => tmp.cleanup());

  it("carries only what the other side lacks, and a delta on its base equals a full load", () => {
    writeLayout(changing);
    const full1 = path.join(tmp.dir, "full1.zip");
    expect(ferry(["save", `oci:${layoutDir}`, "-o", full1]).code).toBe(0);
    const offline = path.join(tmp.dir, "offline");
    expect(ferry(["load", full1, "--store", offline]).code).toBe(0);
    const have = path.join(tmp.dir, "have.json");
    const haveRun = ferryJson<{ blobs: number; images: number }>([
      "have",
      "--store",
      offline,
      "-o",
      have,
    ]);
    expect(haveRun.code).toBe(0);
    expect(haveRun.json.images).toBe(2);

    const newLayer = randomLayer(300 * 1024);
    writeLayout(newLayer);
    const delta = path.join(tmp.dir, "delta.zip");
    const saved = ferryJson<{
      images: Array<{ ref: string; status: string; previous?: string }>;
      requires: number;
      bytes: number;
    }>(["save", `oci:${layoutDir}`, "-o", delta, "--since", have]);
    expect(saved.code).toBe(0);
    const status = Object.fromEntries(saved.json.images.map((i) => [i.ref, i.status]));
    expect(status).toEqual({
      "test.example/app:1": "updated",
      "test.example/stable:1": "unchanged",
    });
    expect(saved.json.requires).toBe(1);
    // the new layer plus small manifests and configs; not the 512 KiB base
    expect(saved.json.bytes).toBeLessThan(newLayer.length + 64 * 1024);
    const inspect = ferryJson<{ delta: { requires: number } | null }>(["inspect", delta]);
    expect(inspect.json.delta?.requires).toBe(1);

    // the same delta, based on the previous bundle instead of a have-list
    const delta2 = path.join(tmp.dir, "delta2.zip");
    const saved2 = ferryJson<{ requires: number }>([
      "save",
      `oci:${layoutDir}`,
      "-o",
      delta2,
      "--since",
      full1,
    ]);
    expect(saved2.json.requires).toBe(1);

    expect(ferry(["verify", delta]).code).toBe(0);
    expect(ferry(["load", delta, "--store", offline]).code).toBe(0);
    const full2 = path.join(tmp.dir, "full2.zip");
    expect(ferry(["save", `oci:${layoutDir}`, "-o", full2]).code).toBe(0);
    const reference = path.join(tmp.dir, "reference");
    expect(ferry(["load", full1, "--store", reference]).code).toBe(0);
    expect(ferry(["load", full2, "--store", reference]).code).toBe(0);
    expect(fingerprint(offline)).toEqual(fingerprint(reference));
  });

  it("a delta whose base was never loaded is refused, listing the missing blobs and images", () => {
    // Its own base and delta (no other test's files).
    const own = path.join(tmp.dir, "never-loaded");
    const ownLayout = path.join(own, "layout");
    writeLayout(changing, ownLayout);
    const baseBundle = path.join(own, "base.zip");
    expect(ferry(["save", `oci:${ownLayout}`, "-o", baseBundle]).code).toBe(0);
    writeLayout(randomLayer(300 * 1024), ownLayout);
    const delta = path.join(own, "delta.zip");
    const saved = ferry(["save", `oci:${ownLayout}`, "-o", delta, "--since", baseBundle]);
    expect(saved.code, saved.stderr).toBe(0);
    const fresh = path.join(own, "fresh-store");
    const load = ferry(["load", delta, "--store", fresh]);
    expect(load.code).toBe(4);
    expect(load.stderr).toMatch(/is a delta: it requires 1 blob\(s\)/);
    expect(load.stderr).toMatch(
      /sha256:[0-9a-f]{64} \(layer 1\/\d of test.example\/(app|stable):1\)/,
    );
    expect(load.stderr).toMatch(/hint: load the bundle this delta is based on first/);
    const images = ferryJson<unknown[]>(["images", "--store", fresh]);
    expect(images.json).toEqual([]);
  });
});
