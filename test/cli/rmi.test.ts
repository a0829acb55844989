import {
  copyFileSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { fingerprint } from "../helpers/tree.js";
import { makeSourceTree } from "../helpers/wimtools.js";
import { containerStore, installWim, makeOsWim } from "../ops/wim-store-helpers.js";

interface RmiJson {
  untagged: Array<{ ref: string; kind: string }>;
  deleted: Array<{ digest: string; kind: string }>;
  gc?: { blobsRemoved: number; bytesFreed: number };
}

function blobs(store: string): string[] {
  return readdirSync(path.join(store, "blobs", "sha256")).sort();
}

describe("ferry rmi (container images and names)", () => {
  const tmp = tempDir("ferry-rmi-cli-");
  const pristine = path.join(tmp.dir, "store");
  /** Each test removes from its own copy of the store: any test runs alone or in any order. */
  const storeFor = (name: string): string => {
    const store = path.join(tmp.dir, `store-${name}`);
    cpSync(pristine, store, { recursive: true });
    return store;
  };

  beforeAll(async () => {
    const store = pristine;
    containerStore(store);
    const layout = createLayout(path.join(tmp.dir, "hub"));
    const hubImage = layout.image({ layers: [randomLayer(100)] });
    layout.tag("docker.io/library/nanoserver:latest", hubImage);
    layout.finish();
    // Put the Docker Hub "nanoserver" into the store too: `nanoserver:latest` is then ambiguous.
    for (const name of readdirSync(path.join(tmp.dir, "hub", "blobs", "sha256"))) {
      const from = path.join(tmp.dir, "hub", "blobs", "sha256", name);
      const to = path.join(store, "blobs", "sha256", name);
      if (!existsSync(to)) copyFileSync(from, to);
    }
    const index = JSON.parse(readFileSync(path.join(store, "index.json"), "utf8"));
    index.manifests.push(
      JSON.parse(readFileSync(path.join(tmp.dir, "hub", "index.json"), "utf8")).manifests[0],
    );
    writeFileSync(path.join(store, "index.json"), JSON.stringify(index));
    const tree = await makeSourceTree(path.join(tmp.dir, "tree"));
    await installWim(store, await makeOsWim(tmp.dir, tree, "NanoServer", "10.0.17763.1"));
  });
  afterAll(() => tmp.cleanup());

  it("refuses a short name meaning both an OS image and a Docker Hub image", () => {
    const store = storeFor("ambiguous");
    const before = fingerprint(store);
    const result = ferry(["rmi", "nanoserver:latest", "--store", store]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("ambiguous");
    expect(result.stderr).toContain("os.ferry.invalid/nanoserver:latest");
    expect(result.stderr).toContain("docker.io/library/nanoserver:latest");
    expect(fingerprint(store)).toEqual(before);
  });

  it("says what is installed when a name is not there (exit 4)", () => {
    const store = storeFor("missing");
    const result = ferry(["rmi", "nanoserver:1.2.3.4", "--store", store]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("CN=Microsoft_NanoServer_10.0.17763.1");
  });

  it("removes an image by its full reference, reclaiming its own blobs", () => {
    const store = storeFor("full-ref");
    const before = blobs(store).length;
    const { code, json } = ferryJson<RmiJson>(["rmi", "test.example/app:1", "--store", store]);
    expect(code).toBe(0);
    expect(json.untagged).toEqual([
      expect.objectContaining({ ref: "test.example/app:1", kind: "image" }),
    ]);
    expect(json.deleted).toHaveLength(1);
    expect(json.gc?.blobsRemoved).toBe(3);
    expect(blobs(store)).toHaveLength(before - 3);
  });

  it("--no-prune removes the name and keeps the blobs; the explicit Hub name still works", () => {
    const store = storeFor("no-prune");
    const before = blobs(store);
    const result = ferry([
      "rmi",
      "docker.io/library/nanoserver:latest",
      "--no-prune",
      "--store",
      store,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Untagged: nanoserver:latest");
    expect(blobs(store)).toEqual(before);
    // Now unambiguous: the short name is the OS image's latest.
    const tagged = ferryJson<{ target: string }>([
      "tag",
      "nanoserver",
      "nanoserver:keep",
      "--store",
      store,
    ]);
    expect(tagged.json.target).toBe("os.ferry.invalid/nanoserver:keep");
  });
});
