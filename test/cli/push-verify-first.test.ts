/**
 * A registry cannot roll back, so ferry reads and hashes every blob it is about to push before
 * the first request that changes the registry: `ferry load BUNDLE --to-registry` with a
 * corrupted bundle, and `ferry push` from a damaged store, change nothing on the registry (no
 * upload, no manifest, no new repository in the catalog). `--dry-run` verifies the same way,
 * asks the registry with HEAD requests only, and foresees what the push then does.
 * Real `distribution` registry behind a logging proxy.
 */

import { createHash, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  homeEnv,
  loadToRegistry,
  type PushJson,
  pushReport,
  startFerry,
  tempDir,
} from "../helpers/cli.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { createLayout } from "../helpers/oci-layout.js";
import { type RunningRegistry, startRegistry } from "../helpers/registry.js";
import { corruptEntry } from "../helpers/zip-tamper.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** Run ferry without blocking this process (the proxy lives here); listeners set at spawn. */
const ferryAsync = (args: string[], env: NodeJS.ProcessEnv): Promise<Run> =>
  startFerry(args, { env }).done;

async function catalog(registryUrl: string): Promise<string[]> {
  const response = await fetch(`${registryUrl}/v2/_catalog?n=1000`);
  const body = (await response.json()) as { repositories?: string[] | null };
  return (body.repositories ?? []).sort();
}

describe("verify before the first upload (real registry)", () => {
  const tmp = tempDir("ferry-push-verify-");
  const work = tmp.dir;
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let env: NodeJS.ProcessEnv;
  const bundle = path.join(work, "bundle.zip");
  const shared = randomBytes(100_000);
  const big = randomBytes(1_500_000);
  const small = randomBytes(30_000);
  const own = randomBytes(40_000);
  const digests: Record<string, string> = {};

  /** Requests that change a registry (anything but GET and HEAD), as the proxy saw them. */
  const writes = () => proxy.requests.filter((r) => r.method !== "GET" && r.method !== "HEAD");

  /** `--dry-run` of `bundle` to the proxy's `mirror/`: its report, after checking it wrote nothing. */
  async function dryRun(bundle: string, envName: string): Promise<PushJson> {
    proxy.clear();
    const planned = await pushReport(
      bundle,
      `${proxy.host}/mirror`,
      ["--dry-run"],
      freshEnv(envName),
    );
    expect(writes()).toEqual([]);
    return planned;
  }

  /** Exit 3 (EINTEGRITY) naming the damaged blob and its image, before any write. */
  function expectRefusedBeforeWriting(result: Run, blob: Buffer, image: string): void {
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain("[EINTEGRITY]");
    expect(result.stderr).toContain(sha256(blob));
    expect(result.stderr).toContain(image);
    expect(writes()).toEqual([]);
  }

  /** A cache of its own per run: no mount hints from earlier pushes. */
  const freshEnv = (name: string) => ({ ...env, FERRY_CACHE: path.join(work, `cache-${name}`) });

  function buildBundle(layoutDir: string, appLayers: Buffer[], out: string): Promise<Run> {
    const layout = createLayout(layoutDir);
    const app = layout.image({ layers: appLayers });
    layout.tag("example.com/team/app:1", app);
    layout.tag("docker.io/library/alpine:3.19", layout.image({ layers: [shared, small] }));
    layout.tag("example.com/team/tool:1", layout.image({ layers: [own] }));
    layout.finish();
    digests[out] = app.digest;
    return ferryAsync(["save", `oci:${layoutDir}`, "-o", out, "-q"], env);
  }

  beforeAll(async () => {
    env = homeEnv(work);
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    const saved = await buildBundle(path.join(work, "layout"), [shared, big], bundle);
    expect(saved.code, saved.stderr).toBe(0);
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    tmp.cleanup();
  });

  it("load --to-registry with a corrupted bundle: exit 3 and nothing new on the registry", async () => {
    const bad = path.join(work, "corrupt.zip");
    copyFileSync(bundle, bad);
    // The last blob in push order (one blob at a time): everything else would have gone first.
    await corruptEntry(bad, `blobs/sha256/${sha256(own).slice(7)}`);
    const before = await catalog(registry.url);
    proxy.clear();
    const result = await loadToRegistry(
      bad,
      `${proxy.host}/corrupt`,
      ["-j", "1"],
      freshEnv("corrupt"),
    );
    expectRefusedBeforeWriting(result, own, "example.com/team/tool:1");
    expect(result.stderr).toContain(`nothing was written to ${proxy.host}`);
    expect(result.stderr).toMatch(/^hint: copy the bundle again/m);
    expect(await catalog(registry.url)).toEqual(before);
  });

  it("the same with --dry-run: exit 3, HEAD and GET only", async () => {
    const bad = path.join(work, "corrupt.zip");
    proxy.clear();
    const result = await loadToRegistry(
      bad,
      `${proxy.host}/corrupt`,
      ["--dry-run"],
      freshEnv("corrupt-dry"),
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(sha256(own));
    expect(writes()).toEqual([]);
  });

  it("ferry push from a store whose blob was damaged: exit 3 and nothing new on the registry", async () => {
    const store = path.join(work, "store");
    const loaded = await ferryAsync(["load", bundle, "--store", store, "-q"], env);
    expect(loaded.code, loaded.stderr).toBe(0);
    const file = path.join(store, "blobs", "sha256", sha256(big).slice(7));
    const bytes = readFileSync(file);
    bytes[1000] = (bytes[1000] ?? 0) ^ 0xff;
    chmodSync(file, 0o644);
    writeFileSync(file, bytes);
    const before = await catalog(registry.url);
    proxy.clear();
    const result = await ferryAsync(
      [
        "push",
        "--store",
        store,
        "-j",
        "1",
        "--to-registry",
        `${proxy.host}/fromstore`,
        "example.com/team/app:1",
        "alpine:3.19",
      ],
      freshEnv("store"),
    );
    expectRefusedBeforeWriting(result, big, "example.com/team/app:1");
    expect(result.stderr).toMatch(/^hint: `ferry check --store /m);
    expect(await catalog(registry.url)).toEqual(before);
  });

  it("--dry-run foresees the push: statuses, uploads, mounts, skips; HEAD and GET only", async () => {
    const planned = await dryRun(bundle, "dry-1");
    expect(planned.dryRun).toBe(true);
    expect(planned.images.map((i) => i.status)).toEqual(["new", "new", "new"]);
    // 3 configs, big, shared once, small, own; shared mounted into the second repository.
    expect(planned.blobs).toEqual({ uploaded: 7, mounted: 1, skipped: 0 });
    expect(planned.manifestsPushed).toBe(3);
    expect(planned.verified?.blobs).toBe(7);
    expect(await catalog(registry.url)).not.toContain("mirror/team/app");

    const human = await loadToRegistry(
      bundle,
      `${proxy.host}/mirror`,
      ["--dry-run"],
      freshEnv("dry-1h"),
    );
    expect(human.stdout).toMatch(
      /^dry run: 3 image\(s\) would be pushed to .*: 7 blob\(s\) to upload .* 1 to mount .* 0 already there .*; 3 manifest\(s\) to push; every blob verified first .*; nothing was pushed$/m,
    );

    const done = await pushReport(bundle, `${proxy.host}/mirror`, [], freshEnv("push-1"));
    expect(done.images.map((i) => [i.target, i.status, i.blobs])).toEqual(
      planned.images.map((i) => [i.target, i.status, i.blobs]),
    );
    expect(done.blobs).toEqual(planned.blobs);
    expect(done.bytes).toEqual(planned.bytes);
    expect(done.manifestsPushed).toBe(planned.manifestsPushed);

    const again = await dryRun(bundle, "dry-2");
    expect(again.images.map((i) => i.status)).toEqual(["unchanged", "unchanged", "unchanged"]);
    expect(again.blobs).toEqual({ uploaded: 0, mounted: 0, skipped: 8 });
    expect(again.manifestsPushed).toBe(0);
  });

  it("--dry-run names an image the push would update, with the digest it replaces", async () => {
    const newer = path.join(work, "newer.zip");
    const saved = await buildBundle(path.join(work, "layout-newer"), [shared, small, own], newer);
    expect(saved.code, saved.stderr).toBe(0);
    const app = (await dryRun(newer, "dry-3")).images.find(
      (i) => i.source === "example.com/team/app:1",
    );
    expect(app).toMatchObject({
      status: "updated",
      previous: digests[bundle],
      digest: digests[newer],
    });
  });
});
