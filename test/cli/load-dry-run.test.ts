/**
 * `ferry load BUNDLE --dry-run` writes nothing, whatever the target: into the store it
 * verifies what the load would write and reports per image new / updated / unchanged with the
 * blobs and bytes to write, leaving the store byte for byte (and file for file) as it was, or
 * absent when it was absent; --docker-archive writes no tarball. A damaged bundle fails the
 * dry run as it would fail the load. (--to-registry: test/cli/push-verify-first.test.ts.)
 */

import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { listTree } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";
import { corruptEntry } from "../helpers/zip-tamper.js";

interface LoadJson {
  dryRun?: boolean;
  store: string;
  images: Array<{ ref: string; digest: string; status: string; previous?: string }>;
  blobsWritten: number;
  blobsSkipped: number;
  bytesWritten: number;
  bytesSkipped: number;
  tagsMoved: Array<{ ref: string; from?: string; to: string }>;
}

const KiB = 1024;

describe("load --dry-run", () => {
  const tmp = tempDir("ferry-load-dry-run-");
  const dir = tmp.dir;
  const base = randomLayer(64 * KiB);
  const v1Layer = randomLayer(16 * KiB);
  const v2Layer = randomLayer(24 * KiB);
  const newLayer = randomLayer(8 * KiB);
  const bundle1 = path.join(dir, "v1.zip");
  const bundle2 = path.join(dir, "v2.zip");
  let v2AppDigest: string;

  /** A layout with the images given, saved as a bundle. */
  function saveBundle(name: string, images: Record<string, Buffer[]>, out: string): string[] {
    const layout = createLayout(path.join(dir, name));
    const digests: string[] = [];
    for (const [ref, layers] of Object.entries(images)) {
      const image = layout.image({ layers });
      layout.tag(ref, image);
      digests.push(image.digest);
    }
    layout.finish();
    const saved = ferry(["save", `oci:${layout.dir}`, "-o", out, "-q"]);
    expect(saved.code, saved.stderr).toBe(0);
    return digests;
  }

  beforeAll(() => {
    saveBundle(
      "layout1",
      { "test.example/app:1": [base, v1Layer], "test.example/stable:1": [base] },
      bundle1,
    );
    [v2AppDigest] = saveBundle(
      "layout2",
      {
        "test.example/app:1": [base, v2Layer],
        "test.example/stable:1": [base],
        "test.example/extra:1": [base, newLayer],
      },
      bundle2,
    ) as [string];
  });
  afterAll(() => tmp.cleanup());

  /** `ferry load BUNDLE --dry-run --store STORE --json`: it succeeds and says it is a dry run. */
  function dryRunLoad(bundle: string, store: string): LoadJson {
    const { code, json, stderr } = ferryJson<LoadJson>([
      "load",
      bundle,
      "--dry-run",
      "--store",
      store,
    ]);
    expect(code, stderr).toBe(0);
    expect(json.dryRun).toBe(true);
    return json;
  }

  it("into a store that does not exist: reports every image new and creates nothing", () => {
    const store = path.join(dir, "no-store-yet");
    const json = dryRunLoad(bundle1, store);
    expect(json.store).toBe(store);
    expect(json.images.map((i) => [i.ref, i.status]).sort()).toEqual([
      ["test.example/app:1", "new"],
      ["test.example/stable:1", "new"],
    ]);
    // Two configs and two layers (the base is shared).
    expect(json.blobsWritten).toBe(4);
    expect(json.bytesWritten).toBeGreaterThan(80 * KiB);
    expect(json.blobsSkipped).toBe(0);
    expect(existsSync(store)).toBe(false);
    const human = ferry(["load", bundle1, "--dry-run", "--store", store]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(
      /^dry run: would load 2 image\(s\) into .*: 4 blob\(s\) to write/m,
    );
    expect(human.stdout).toContain("nothing was written");
    expect(existsSync(store)).toBe(false);
  });

  it("into a store: new, updated (with the previous digest) and unchanged; not a file changes", () => {
    const store = path.join(dir, "store");
    const loaded = ferryJson<LoadJson>(["load", bundle1, "--store", store]);
    expect(loaded.code, loaded.stderr).toBe(0);
    const appBefore = loaded.json.images.find((i) => i.ref === "test.example/app:1")?.digest;
    const files = listTree(store);
    const contents = fingerprint(store, []);

    const json = dryRunLoad(bundle2, store);
    const byRef = new Map(json.images.map((i) => [i.ref, i]));
    expect(byRef.get("test.example/app:1")).toEqual({
      ref: "test.example/app:1",
      digest: v2AppDigest,
      status: "updated",
      previous: appBefore,
    });
    expect(byRef.get("test.example/stable:1")?.status).toBe("unchanged");
    expect(byRef.get("test.example/extra:1")?.status).toBe("new");
    // New: the app's new layer and config, the extra image's layer and config.
    expect(json.blobsWritten).toBe(4);
    expect(json.bytesWritten).toBeGreaterThan(32 * KiB);
    expect(json.blobsSkipped).toBe(2);
    expect(json.tagsMoved.map((t) => t.ref).sort()).toEqual([
      "test.example/app:1",
      "test.example/extra:1",
    ]);
    expect(listTree(store)).toEqual(files);
    expect(fingerprint(store, [])).toEqual(contents);

    // The real load then does what the dry run said.
    const real = ferryJson<LoadJson>(["load", bundle2, "--store", store]);
    expect(real.code, real.stderr).toBe(0);
    expect(real.json.images).toEqual(json.images);
    expect(real.json.blobsWritten).toBe(json.blobsWritten);
    expect(real.json.bytesWritten).toBe(json.bytesWritten);
  });

  it("a damaged bundle fails the dry run as it fails the load (exit 3), still writing nothing", async () => {
    const bad = path.join(dir, "bad.zip");
    copyFileSync(bundle2, bad);
    const digest = `sha256:${createHash("sha256").update(newLayer).digest("hex")}`;
    await corruptEntry(bad, `blobs/sha256/${digest.slice(7)}`);
    const store = path.join(dir, "absent");
    const result = ferry(["load", bad, "--dry-run", "--store", store]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("[EINTEGRITY]");
    expect(result.stderr).toContain(digest);
    expect(existsSync(store)).toBe(false);
  });

  it("--docker-archive --dry-run verifies and reports, and writes no tarball", () => {
    const out = path.join(dir, "tar-out");
    const tar = path.join(out, "images.tar");
    mkdirSync(out);
    const { code, json, stderr } = ferryJson<{
      dryRun?: boolean;
      images: Array<{ ref: string }>;
      blobs: number;
      bytes: number;
    }>(["load", bundle1, "--dry-run", "--docker-archive", tar, "--platform", "linux/amd64"]);
    expect(code, stderr).toBe(0);
    expect(json.dryRun).toBe(true);
    expect(json.images.map((i) => i.ref).sort()).toEqual([
      "test.example/app:1",
      "test.example/stable:1",
    ]);
    expect(json.blobs).toBe(4);
    expect(readdirSync(out)).toEqual([]);
  });
});
