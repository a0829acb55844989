import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, repoRoot, run, samplesOci, tempDir } from "../helpers/cli.js";
import { threeImageLayout } from "../helpers/oci-layout.js";
import { fingerprint } from "../helpers/tree.js";
import { corruptEntry, zipEntries } from "../helpers/zip-tamper.js";

const samplesDocker = path.join(repoRoot, "samples", "docker-save.tar");

interface SaveSummary {
  bundle: string;
  images: Array<{ ref: string; digest: string; platforms: string[] }>;
  blobs: number;
}

describe("save -> inspect -> verify -> load -> images (samples)", () => {
  const tmp = tempDir();
  const bundle = path.join(tmp.dir, "bundle.zip");
  let saved: SaveSummary;
  /** A store the bundle was loaded into, for the tests that read one (loaded on first use). */
  let loadedStore: string | undefined;
  function storeWithBundle(): string {
    if (loadedStore) return loadedStore;
    const store = path.join(tmp.dir, "store-loaded");
    const loaded = ferry(["load", bundle, "--store", store]);
    expect(loaded.code, loaded.stderr).toBe(0);
    loadedStore = store;
    return store;
  }

  beforeAll(() => {
    const result = ferryJson<SaveSummary>([
      "save",
      `oci:${samplesOci}`,
      `docker-archive:${samplesDocker}`,
      "-o",
      bundle,
    ]);
    expect(result.code, result.stderr).toBe(0);
    saved = result.json;
  });
  afterAll(() => tmp.cleanup());

  it("saves every image of both sources under full names", () => {
    expect(saved.images.map((i) => i.ref).sort()).toEqual([
      "example.com/ferry/hello:1.0",
      "example.com/ferry/hello:multi",
      "example.com/ferry/tools:1.0",
      "example.com/ferry/tools:latest",
    ]);
    const multi = saved.images.find((i) => i.ref.endsWith(":multi"));
    expect(multi?.platforms).toEqual([
      "linux/amd64",
      "linux/arm64/v8",
      "windows/amd64:10.0.20348.2113",
    ]);
    expect(existsSync(bundle)).toBe(true);
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("writes STORED entries with an allowed name each, every blob once", async () => {
    const entries = await zipEntries(bundle);
    const names = [...entries.keys()];
    expect(names).toContain("oci-layout");
    expect(names).toContain("index.json");
    expect(names).toContain("ferry.json");
    expect(names).toContain("SHA256SUMS");
    for (const entry of entries.values()) expect(entry.method).toBe(0);
    const blobs = names.filter((n) => n.startsWith("blobs/sha256/"));
    expect(new Set(blobs).size).toBe(blobs.length);
    expect(blobs.length).toBe(saved.blobs);
  });

  it("is a plain OCI layout: unzip + sha256sum -c and skopeo inspect work without ferry", () => {
    const unzipped = path.join(tmp.dir, "unzipped");
    expect(run("unzip", ["-q", bundle, "-d", unzipped]).code).toBe(0);
    const sums = run("sha256sum", ["-c", "SHA256SUMS"], unzipped);
    expect(sums.code, sums.stdout + sums.stderr).toBe(0);
    expect(sums.stdout).toContain("ferry.json: OK");
    const inspect = run("skopeo", ["inspect", `oci:${unzipped}:example.com/ferry/hello:1.0`]);
    expect(inspect.code, inspect.stderr).toBe(0);
    const hello = saved.images.find((i) => i.ref === "example.com/ferry/hello:1.0");
    expect(JSON.parse(inspect.stdout).Digest).toBe(hello?.digest);
  });

  it("inspect describes the bundle from ferry.json without problems", () => {
    const { code, json } = ferryJson<{
      images: Array<{ ref: string; blobCount: number; kind: string }>;
      delta: unknown;
      problems: unknown[];
    }>(["inspect", bundle]);
    expect(code).toBe(0);
    expect(json.problems).toEqual([]);
    expect(json.delta).toBeNull();
    expect(json.images).toHaveLength(4);
    expect(json.images.every((i) => i.blobCount > 0 && i.kind === "image")).toBe(true);
  });

  it("verify checks every byte and exits 0", () => {
    const { code, json } = ferryJson<{ ok: boolean; blobsChecked: number }>(["verify", bundle]);
    expect(code).toBe(0);
    expect(json.ok).toBe(true);
    expect(json.blobsChecked).toBeGreaterThan(0);
    const human = ferry(["verify", bundle]);
    expect(human.stdout).toMatch(/^OK /m);
  });

  it("load installs every image; skopeo and umoci read the store", () => {
    const store = path.join(tmp.dir, "store-fresh");
    const { code, json } = ferryJson<{
      images: Array<{ ref: string; status: string; digest: string }>;
    }>(["load", bundle, "--store", store]);
    expect(code).toBe(0);
    expect(json.images.every((i) => i.status === "new")).toBe(true);
    const hello = json.images.find((i) => i.ref === "example.com/ferry/hello:1.0");
    const other = path.join(tmp.dir, "other");
    const copy = run("skopeo", [
      "copy",
      `oci:${store}:example.com/ferry/hello:1.0`,
      `oci:${other}:example.com/ferry/hello:1.0`,
    ]);
    expect(copy.code, copy.stderr).toBe(0);
    const otherIndex = JSON.parse(readFileSync(path.join(other, "index.json"), "utf8"));
    expect(otherIndex.manifests[0].digest).toBe(hello?.digest);
    const umoci = run("umoci", ["ls", "--layout", store]);
    expect(umoci.code, umoci.stderr).toBe(0);
    expect(umoci.stdout).toContain("example.com/ferry/tools:latest");
  });

  it("images lists what was loaded, like docker images", () => {
    const store = storeWithBundle();
    const { code, json } = ferryJson<
      Array<{ repository: string; tag: string; size: number; created: string }>
    >(["images", "--store", store]);
    expect(code).toBe(0);
    expect(json.map((i) => `${i.repository}:${i.tag}`).sort()).toEqual([
      "example.com/ferry/hello:1.0",
      "example.com/ferry/hello:multi",
      "example.com/ferry/tools:1.0",
      "example.com/ferry/tools:latest",
    ]);
    expect(json.every((i) => i.size > 0 && i.created === "2026-01-01T00:00:00Z")).toBe(true);
    const table = ferry(["images", "--store", store]).stdout.split("\n");
    expect(table[0]).toMatch(/^REPOSITORY\s+TAG\s+DIGEST\s+PLATFORMS\s+SIZE\s+CREATED$/);
  });

  it("loading the same bundle again changes nothing", () => {
    const store = storeWithBundle();
    const before = fingerprint(store);
    const { code, json } = ferryJson<{ images: Array<{ status: string }>; blobsWritten: number }>([
      "load",
      bundle,
      "--store",
      store,
    ]);
    expect(code).toBe(0);
    expect(json.blobsWritten).toBe(0);
    expect(json.images.every((i) => i.status === "unchanged")).toBe(true);
    expect(fingerprint(store)).toEqual(before);
  });

  it("FERRY_STORE chooses the store when --store is absent", () => {
    const store = storeWithBundle();
    const { code, json } = ferryJson<unknown[]>(["images"], { env: { FERRY_STORE: store } });
    expect(code).toBe(0);
    expect(json).toHaveLength(4);
  });
});

describe("shared layers and corruption", () => {
  const tmp = tempDir();
  const layoutDir = path.join(tmp.dir, "layout");
  const bundle = path.join(tmp.dir, "three.zip");
  let baseDigest = "";

  beforeAll(() => {
    const layout = threeImageLayout(layoutDir);
    void layout;
    const index = JSON.parse(readFileSync(path.join(layoutDir, "index.json"), "utf8"));
    const manifest = JSON.parse(
      readFileSync(
        path.join(layoutDir, "blobs", "sha256", index.manifests[0].digest.slice(7)),
        "utf8",
      ),
    );
    baseDigest = manifest.layers[0].digest;
    expect(ferry(["save", `oci:${layoutDir}`, "-o", bundle]).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it("carries a base layer shared by three images once", async () => {
    const entries = await zipEntries(bundle);
    const blobs = [...entries.keys()].filter((n) => n.startsWith("blobs/"));
    // 1 shared base + 3 own layers + 3 configs + 3 manifests
    expect(blobs).toHaveLength(10);
    expect(blobs).toContain(`blobs/sha256/${baseDigest.slice(7)}`);
  });

  it("verify names the corrupt blob, every image it breaks, expected and found", async () => {
    const bad = path.join(tmp.dir, "bad.zip");
    run("cp", [bundle, bad]);
    await corruptEntry(bad, `blobs/sha256/${baseDigest.slice(7)}`);
    const { code, json } = ferryJson<{
      ok: boolean;
      problems: Array<{ subject: string; code: string; images: string[]; message: string }>;
    }>(["verify", bad]);
    expect(code).toBe(3);
    expect(json.ok).toBe(false);
    expect(json.problems).toHaveLength(1);
    const [problem] = json.problems;
    expect(problem?.subject).toBe(baseDigest);
    expect(problem?.code).toBe("EINTEGRITY");
    expect(problem?.images.sort()).toEqual([
      "test.example/app:1",
      "test.example/app:2",
      "test.example/app:3",
    ]);
    expect(problem?.message).toMatch(/expected sha256:[0-9a-f]{64}, found sha256:[0-9a-f]{64}/);
  });

  it("verify reports all bad blobs, not only the first", async () => {
    const bad = path.join(tmp.dir, "bad2.zip");
    run("cp", [bundle, bad]);
    const names = [...(await zipEntries(bad)).keys()].filter((n) => n.startsWith("blobs/"));
    const layers = [];
    for (const name of names) {
      const entry = (await zipEntries(bad)).get(name);
      if (entry && entry.size >= 16 * 1024) layers.push(name);
    }
    for (const name of layers) await corruptEntry(bad, name);
    const { code, json } = ferryJson<{ problems: unknown[] }>(["verify", bad]);
    expect(code).toBe(3);
    expect(json.problems).toHaveLength(layers.length);
  });

  it("load of a corrupt bundle fails, naming the blob, and leaves the store as it was", async () => {
    const store = path.join(tmp.dir, "store");
    expect(
      ferry(["load", path.join(repoRoot, "ferry-demo-missing.zip"), "--store", store]).code,
    ).not.toBe(0);
    const good = ferry(["save", `oci:${samplesOci}`, "-o", path.join(tmp.dir, "samples.zip")]);
    expect(good.code).toBe(0);
    expect(ferry(["load", path.join(tmp.dir, "samples.zip"), "--store", store]).code).toBe(0);
    const before = fingerprint(store);
    const bad = path.join(tmp.dir, "bad3.zip");
    run("cp", [bundle, bad]);
    await corruptEntry(bad, `blobs/sha256/${baseDigest.slice(7)}`);
    const result = ferry(["load", bad, "--store", store]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(baseDigest);
    expect(fingerprint(store)).toEqual(before);
    expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
  });

  it("a failed save leaves no bundle and no temp file", () => {
    const broken = path.join(tmp.dir, "broken-layout");
    run("cp", ["-r", layoutDir, broken]);
    const blobFile = path.join(broken, "blobs", "sha256", baseDigest.slice(7));
    run("truncate", ["-s", "100", blobFile]);
    const out = path.join(tmp.dir, "out", "never.zip");
    run("mkdir", ["-p", path.dirname(out)]);
    const result = ferry(["save", `oci:${broken}`, "-o", out]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(baseDigest);
    expect(readdirSync(path.dirname(out))).toEqual([]);
  });
});
