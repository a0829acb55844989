import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectGarbage } from "../../src/ops/gc.js";
import { removeImages } from "../../src/ops/rmi.js";
import { readStoreEntries, resolveStoreRef, tagImage } from "../../src/ops/wim-refs.js";
import { Store } from "../../src/transports/layout/store.js";
import { errorOf, errorOfSync } from "../helpers/errors.js";
import { createLayout, randomLayer, sha256 } from "../helpers/oci-layout.js";
import { makeSourceTree, makeTempDir, removeTempDir } from "../helpers/wimtools.js";
import { containerStore, installWim, makeOsWim } from "./wim-store-helpers.js";

function blobCount(store: string): number {
  return readdirSync(join(store, "blobs", "sha256")).length;
}

function refs(store: string): string[] {
  const index = JSON.parse(readFileSync(join(store, "index.json"), "utf8"));
  return index.manifests
    .map(
      (d: { annotations: Record<string, string> }) =>
        d.annotations["org.opencontainers.image.ref.name"],
    )
    .sort();
}

describe("rmi and gc on a store", () => {
  let dir: string;
  let tree: string;
  const wims: Record<string, string> = {};

  beforeAll(async () => {
    dir = await makeTempDir("ferry-rmi-");
    tree = await makeSourceTree(join(dir, "tree"), { fileCount: 1, fileBytes: 5000 });
    wims.n2113 = await makeOsWim(dir, tree, "NanoServer", "10.0.20348.2113");
    wims.n1010 = await makeOsWim(dir, tree, "NanoServer", "10.0.14300.1010");
    wims.n2200 = await makeOsWim(dir, tree, "NanoServer", "10.0.20348.2200");
  });
  afterAll(async () => removeTempDir(dir));

  it("untags a name that shares its digest, and deletes (and reclaims) the last one", async () => {
    const store = join(dir, "s1");
    containerStore(store);
    await tagImage(store, "test.example/app:1", "test.example/app:one");
    const before = blobCount(store);
    const untag = await removeImages(store, ["test.example/app:one"]);
    expect(untag.untagged.map((u) => u.ref)).toEqual(["test.example/app:one"]);
    expect(untag.deleted).toEqual([]);
    expect(untag.gc?.blobsRemoved).toBe(0);
    const removed = await removeImages(store, ["test.example/app:1"]);
    expect(removed.deleted).toHaveLength(1);
    // manifest, config and own layer go; the base layer app:2 shares stays
    expect(removed.gc?.blobsRemoved).toBe(3);
    expect(blobCount(store)).toBe(before - 3);
    expect(refs(store)).not.toContain("test.example/app:1");
  });

  it("a digest named in two repositories needs --force", async () => {
    const store = join(dir, "s2");
    containerStore(store);
    const tagged = await tagImage(store, "test.example/app:2", "other.example/copy:1");
    const error = await errorOf(removeImages(store, [tagged.digest.slice(7, 19)]));
    expect(error.code).toBe("EREFUSED");
    expect(error.message).toContain("other.example/copy:1");
    const forced = await removeImages(store, [tagged.digest], { force: true });
    expect(forced.untagged.map((u) => u.ref).sort()).toEqual([
      "other.example/copy:1",
      "test.example/app:2",
    ]);
  });

  it("refuses an OS image with dependants (os.version and base annotation), names them, changes nothing", async () => {
    const store = join(dir, "s3");
    containerStore(store);
    await installWim(store, wims.n2113 as string);
    await installWim(store, wims.n1010 as string);
    const indexBefore = readFileSync(join(store, "index.json"));
    const blobsBefore = blobCount(store);
    const byVersion = await errorOf(removeImages(store, ["nanoserver:10.0.20348.2113"]));
    expect(byVersion.code).toBe("EREFUSED");
    expect(byVersion.details.dependants).toEqual([
      {
        ref: "test.example/win:1",
        base: "os.ferry.invalid/nanoserver:10.0.20348.2113",
        reason: "windows/amd64:10.0.20348.2113 matches",
      },
    ]);
    const byProvenance = await errorOf(
      removeImages(store, ["CN=Microsoft_NanoServer_10.0.14300.1010"]),
    );
    expect(byProvenance.message).toContain("test.example/prov:1");
    expect(byProvenance.message).toContain(
      "org.opencontainers.image.base.name is nanoserver:10.0.14300.1010",
    );
    expect(readFileSync(join(store, "index.json"))).toEqual(indexBefore);
    expect(blobCount(store)).toBe(blobsBefore);
  });

  it("--force removes it; latest moves to the newest version left; the WIM blob is reclaimed", async () => {
    const store = join(dir, "s4");
    containerStore(store);
    const old = await installWim(store, wims.n1010 as string);
    const mid = await installWim(store, wims.n2113 as string);
    expect(mid.latestMoved[0]).toMatchObject({
      version: "10.0.20348.2113",
      fromVersion: "10.0.14300.1010",
    });
    const report = await removeImages(store, ["nanoserver:10.0.20348.2113"], { force: true });
    expect(report.forcedDependants.map((d) => d.ref)).toEqual(["test.example/win:1"]);
    expect(report.latestMoved).toEqual([
      expect.objectContaining({
        ref: "os.ferry.invalid/nanoserver:latest",
        version: "10.0.14300.1010",
      }),
    ]);
    expect(existsSync(join(store, "blobs", "sha256", mid.facts.wim.digest.slice(7)))).toBe(false);
    expect(existsSync(join(store, "blobs", "sha256", old.facts.wim.digest.slice(7)))).toBe(true);
    const latest = await tagImage(store, "nanoserver:latest", "nanoserver:check");
    expect(latest.digest).toBe(
      (
        await readStoreEntries(await Store.open(store), await (await Store.open(store)).readIndex())
      ).find((e) => e.ref === "os.ferry.invalid/nanoserver:10.0.14300.1010")?.descriptor.digest,
    );
  });

  it("load keeps latest on the newest installed version when an older one arrives", async () => {
    const store = join(dir, "s5");
    await installWim(store, wims.n2200 as string);
    const older = await installWim(store, wims.n2113 as string);
    expect(older.latestMoved).toEqual([]);
    const noLatest = join(dir, "s5b");
    await installWim(noLatest, wims.n2113 as string, false);
    expect(refs(noLatest)).toEqual(["os.ferry.invalid/nanoserver:10.0.20348.2113"]);
  });

  it("removing only latest untags it and does not move it back", async () => {
    const store = join(dir, "s6");
    await installWim(store, wims.n2113 as string);
    const report = await removeImages(store, ["nanoserver:latest"]);
    expect(report.untagged.map((u) => u.ref)).toEqual(["os.ferry.invalid/nanoserver:latest"]);
    expect(report.deleted).toEqual([]);
    expect(refs(store)).toEqual(["os.ferry.invalid/nanoserver:10.0.20348.2113"]);
  });

  it("resolves names: short, any case, full name, explicit registry; refuses ambiguity", async () => {
    const store = join(dir, "s7");
    const layout = createLayout(store);
    layout.tag("docker.io/library/nanoserver:latest", layout.image({ layers: [randomLayer(100)] }));
    layout.finish();
    await installWim(store, wims.n2113 as string);
    const s = await Store.open(store);
    const entries = await readStoreEntries(s, await s.readIndex());
    const one = (input: string) => resolveStoreRef(entries, input, store).entries.map((e) => e.ref);
    expect(one("nanoserver:10.0.20348.2113")).toEqual([
      "os.ferry.invalid/nanoserver:10.0.20348.2113",
    ]);
    expect(one("NanoServer:10.0.20348.2113")).toEqual([
      "os.ferry.invalid/nanoserver:10.0.20348.2113",
    ]);
    expect(one("cn=microsoft_nanoserver_10.0.20348.2113")).toEqual([
      "os.ferry.invalid/nanoserver:10.0.20348.2113",
    ]);
    expect(one("os.ferry.invalid/nanoserver:latest")).toEqual([
      "os.ferry.invalid/nanoserver:latest",
    ]);
    expect(one("docker.io/library/nanoserver:latest")).toEqual([
      "docker.io/library/nanoserver:latest",
    ]);
    expect(one("library/nanoserver")).toEqual(["docker.io/library/nanoserver:latest"]);
    const ambiguous = errorOfSync(() => one("nanoserver:latest"));
    expect(ambiguous.code).toBe("EUSAGE");
    expect(ambiguous.message).toContain("ambiguous");
    expect(ambiguous.hint).toContain("os.ferry.invalid/nanoserver:latest");
    const missing = errorOfSync(() => one("nanoserver:9.9.9.9"));
    expect(missing.code).toBe("ENOTFOUND");
    expect(missing.hint).toContain("CN=Microsoft_NanoServer_10.0.20348.2113");
  });

  it("gc reclaims unreferenced blobs only, reports in dry-run, and refuses on a missing manifest", async () => {
    const store = join(dir, "s8");
    containerStore(store);
    const stray = randomLayer(777);
    writeFileSync(join(store, "blobs", "sha256", sha256(stray)), stray);
    writeFileSync(join(store, "blobs", "sha256", "README"), "not a blob");
    const dry = await collectGarbage(store, { dryRun: true });
    expect(dry.removed).toEqual([{ digest: `sha256:${sha256(stray)}`, size: 777 }]);
    expect(existsSync(join(store, "blobs", "sha256", sha256(stray)))).toBe(true);
    const real = await collectGarbage(store);
    expect(real.blobsRemoved).toBe(1);
    expect(real.bytesFreed).toBe(777);
    expect(existsSync(join(store, "blobs", "sha256", sha256(stray)))).toBe(false);
    expect(existsSync(join(store, "blobs", "sha256", "README"))).toBe(true);
    // A missing manifest: nothing can be told from garbage, so nothing is deleted.
    writeFileSync(join(store, "blobs", "sha256", sha256(stray)), stray);
    const index = JSON.parse(readFileSync(join(store, "index.json"), "utf8"));
    const app1 = index.manifests.find(
      (d: { annotations: Record<string, string> }) =>
        d.annotations["org.opencontainers.image.ref.name"] === "test.example/app:1",
    );
    rmSync(join(store, "blobs", "sha256", app1.digest.slice(7)));
    const error = await errorOf(collectGarbage(store));
    expect(error.code).toBe("EBADIMAGE");
    expect(error.message).toContain("test.example/app:1");
    expect(existsSync(join(store, "blobs", "sha256", sha256(stray)))).toBe(true);
    const rmi = await removeImages(store, ["test.example/app:2"]);
    expect(rmi.untagged).toHaveLength(1);
    expect(rmi.gcError).toContain("cannot be told from garbage");
  });
});
