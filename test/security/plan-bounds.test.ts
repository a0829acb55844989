import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planImage } from "../../src/engine/plan.js";
import { BundleReader } from "../../src/transports/bundle/reader.js";
import { BundleSource } from "../../src/transports/bundle/source.js";
import { ferry, ferryAsync, ferryBin, ferryJson, tempDir } from "../helpers/cli.js";
import { errorOf } from "../helpers/errors.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { type RunningRegistry, startRegistry } from "../helpers/registry.js";
import { fingerprint } from "../helpers/tree.js";

import {
  countingSource,
  manyPlatformsIndex,
  nestedRepeatsImage,
  pushForged,
  repeatingIndex,
  smallImage,
  writeBundle,
  writeLayout,
} from "./hostile-images.js";

/**
 * Hostile indexes must cost bounded work: an index naming the same child N times, nested L
 * levels, is N^L children but only L+1 documents; each digest is fetched once. An image that
 * expands past MAX_IMAGE_DESCRIPTORS is refused with a short message. Bounds are asserted as
 * counts of fetches (a counting source, requests seen by a proxy), never as time.
 */

/** The documented limit (docs/security.md): descriptors one image may expand to. */
const LIMIT = 10_000;

const tmp = tempDir("ferry-plan-bounds-");
afterAll(() => tmp.cleanup());

/** Open a bundle the way load and verify do, with every fetch counted. */
async function openCounted(file: string, budget: number) {
  const reader = await BundleReader.open(file, { trust: [] });
  const counted = countingSource(new BundleSource(reader), budget);
  const [image] = await counted.source.images();
  if (!image) throw new Error("the forged bundle offers no image");
  return { reader, image, ...counted };
}

/**
 * Run ferry, killed after `killAfterMs` only so that a hang on broken code cannot block the
 * suite forever; tests assert the outcome, never the time taken.
 */
function ferryBounded(args: string[], killAfterMs = 240_000) {
  const result = spawnSync(process.execPath, [ferryBin, ...args], {
    encoding: "utf8",
    timeout: killAfterMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("an index naming the same child again and again, nested", () => {
  const repeats = 40;
  const levels = 4; // 40^4 = 2,560,000 children named, 5 documents
  const image = nestedRepeatsImage("hostile.example/nested:1", repeats, levels);
  const bundle = writeBundle(path.join(tmp.dir, "nested.zip"), [image]);

  it("is planned with one fetch per distinct manifest and one config read", async () => {
    const { reader, image: offered, source, counts } = await openCounted(bundle, 50);
    try {
      const plan = await planImage(source, offered, { platforms: "all" });
      expect(counts.manifests).toBe(levels + 1);
      expect(counts.blobs).toBe(1);
      expect(plan.manifests).toHaveLength(levels + 1);
      expect(plan.blobs).toHaveLength(2);
      expect(plan.platforms).toEqual([{ os: "linux", architecture: "amd64" }]);
    } finally {
      await reader.close();
    }
  });

  it("verify and load finish with the right result", { timeout: 600_000 }, () => {
    const verify = ferryBounded(["verify", bundle]);
    expect(verify.code, verify.stderr).toBe(0);
    const store = path.join(tmp.dir, "nested-store");
    const load = ferryBounded(["load", bundle, "--store", store]);
    expect(load.code, load.stderr).toBe(0);
    const listed = ferryJson<Array<{ ref: string; platforms: string[] }>>([
      "images",
      "--store",
      store,
    ]);
    expect(listed.json.map((i) => [i.ref, i.platforms])).toEqual([
      ["hostile.example/nested:1", ["linux/amd64"]],
    ]);
    const check = ferryBounded(["check", "--store", store]);
    expect(check.code, check.stderr).toBe(0);
  });
});

describe("an image that expands to more than the limit", () => {
  const { manifest, config, layer } = smallImage();
  const wide = repeatingIndex(manifest, LIMIT + 1);
  const image = { ref: "hostile.example/wide:1", root: wide, contents: [manifest, config, layer] };
  const bundle = writeBundle(path.join(tmp.dir, "wide.zip"), [image]);

  it("is refused before its children are fetched, with a short message naming it", async () => {
    const { reader, image: offered, source, counts } = await openCounted(bundle, 50);
    try {
      const error = await errorOf(planImage(source, offered, { platforms: "all" }));
      expect(error.code).toBe("EBADIMAGE");
      expect(error.message).toContain("hostile.example/wide:1");
      expect(error.message).toContain("10,000");
      expect(error.message.length).toBeLessThan(400);
      expect(counts.manifests).toBe(1);
      expect(counts.blobs).toBe(0);
    } finally {
      await reader.close();
    }
  });

  it("load refuses it (exit 3) and leaves the store as it was", () => {
    const store = path.join(tmp.dir, "wide-store");
    const seed = writeBundle(path.join(tmp.dir, "seed.zip"), [
      nestedRepeatsImage("hostile.example/seed:1", 1, 1),
    ]);
    expect(ferry(["load", seed, "--store", store]).code).toBe(0);
    const before = fingerprint(store);
    const load = ferryBounded(["load", bundle, "--store", store]);
    expect(load.code).toBe(3);
    expect(load.stderr).toMatch(/EBADIMAGE.*hostile\.example\/wide:1.*10,000/);
    expect(load.stderr.length).toBeLessThan(1000);
    expect(fingerprint(store)).toEqual(before);
  });
});

describe("error messages about many platforms stay short", () => {
  const { manifest, config, layer } = smallImage();

  it("an index of 5,000 platforms: the missing-platform error lists ten and counts the rest", async () => {
    const root = manyPlatformsIndex(manifest, 5000);
    const bundle = writeBundle(path.join(tmp.dir, "platforms.zip"), [
      { ref: "hostile.example/platforms:1", root, contents: [manifest, config, layer] },
    ]);
    const { reader, image, source, counts } = await openCounted(bundle, 50);
    try {
      const error = await errorOf(
        planImage(source, image, { platforms: [{ os: "linux", architecture: "s390x" }] }),
      );
      expect(error.code).toBe("ENOTFOUND");
      expect(error.message).toContain("linux/arch0, linux/arch1,");
      expect(error.message).toContain("... and 4,990 more");
      expect(error.message.length).toBeLessThan(600);
      expect(counts.manifests).toBe(1);
    } finally {
      await reader.close();
    }
  });

  it("an index of 18,000 platforms in a layout: save refuses it with a message of bounded size", () => {
    const root = manyPlatformsIndex(manifest, 18_000);
    const layout = writeLayout(
      path.join(tmp.dir, "layout-18k"),
      { ref: "x", root, contents: [manifest, config, layer] },
      "v1",
    );
    const save = ferryBounded([
      "save",
      `oci:${layout}:v1`,
      "--platform",
      "linux/s390x",
      "-o",
      path.join(tmp.dir, "never.zip"),
    ]);
    expect(save.code).toBe(3);
    expect(save.stderr).toMatch(/EBADIMAGE.*10,000/);
    expect(save.stderr.length).toBeLessThan(1000);
  });
});

describe("a registry serving nested repeating indexes", () => {
  const repeats = 12;
  const levels = 3; // 1 + 12 + 144 manifest requests if every repeat were fetched
  const net = {} as { registry: RunningRegistry; proxy: FaultProxy };

  beforeAll(async () => {
    net.registry = await startRegistry();
    net.proxy = await startFaultProxy(net.registry.url);
    const image = nestedRepeatsImage("unused", repeats, levels);
    await pushForged(net.registry.url, "nested/app", "1", image);
  });
  afterAll(async () => {
    await net.proxy?.stop();
    await net.registry?.stop();
  });

  it("save fetches each manifest once through the proxy and writes a good bundle", async () => {
    const work = path.join(tmp.dir, "registry");
    mkdirSync(work, { recursive: true });
    const env = {
      HOME: work,
      FERRY_AUTH_FILE: path.join(work, "auth.json"),
      DOCKER_CONFIG: path.join(work, "docker"),
      FERRY_CACHE: path.join(work, "cache"),
    };
    net.proxy.requests.length = 0;
    const out = path.join(work, "nested.zip");
    const save = await ferryAsync(
      ["save", `${net.proxy.host}/nested/app:1`, "--platform", "all", "-o", out],
      { env },
    );
    expect(save.code, save.stderr).toBe(0);
    const manifestRequests = net.proxy.requests.filter((r) => r.path.includes("/manifests/"));
    expect(manifestRequests.map((r) => r.method)).toEqual(Array(levels + 1).fill("GET"));
    const blobRequests = net.proxy.requests.filter((r) => r.path.includes("/blobs/"));
    expect(blobRequests.length).toBeLessThanOrEqual(2);
    expect(ferry(["verify", out]).code).toBe(0);
  });
});
