/**
 * `ferry load BUNDLE --to-registry` and `ferry push` against the real `distribution` registry
 * (open, htpasswd, token auth), checked with skopeo: same manifest digests after a push and a
 * copy back; a second push uploads nothing; a push killed half-way (and one cut mid-PATCH)
 * completes on a re-run; a corrupt bundle leaves no tag; a layer shared by two repositories is
 * mounted; foreign layers pushed as they are or rewritten with --strip-foreign-urls; a WIM.
 */

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  collectOutput,
  ferryBin,
  homeEnv,
  jsonOutput,
  loadToRegistry,
  type PushJson,
  pushReport,
  run,
  startFerry,
  tempDir,
} from "../helpers/cli.js";
import { type FaultProxy, type RespondHandler, startFaultProxy } from "../helpers/fault-proxy.js";
import { createLayout, type LayoutBuilder } from "../helpers/oci-layout.js";
import { makeCertificate, type RunningRegistry, startRegistry } from "../helpers/registry.js";
import { startTokenServer, type TokenServer, tokenAuth } from "../helpers/token-server.js";
import { captureWindows, makeSourceTree } from "../helpers/wimtools.js";
import { corruptEntry } from "../helpers/zip-tamper.js";

const MiB = 1024 * 1024;
const USER = { name: "fleet", password: "pa55:word" };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const sha256 = (bytes: Buffer | string) =>
  `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** Run ferry without blocking this process (the fault proxy lives here). */
const ferryAsync = (args: string[], env: NodeJS.ProcessEnv): Promise<Run> =>
  startFerry(args, { env }).done;

const parse = (run: Run): PushJson => jsonOutput<PushJson>(run);

function skopeoRaw(ref: string, creds?: string): { code: number; digest?: string; json?: unknown } {
  const result = run("skopeo", [
    "inspect",
    "--raw",
    "--tls-verify=false",
    ...(creds ? ["--creds", creds] : []),
    `docker://${ref}`,
  ]);
  if (result.code !== 0) return { code: result.code };
  return { code: 0, digest: sha256(result.stdout), json: JSON.parse(result.stdout) };
}

async function tagsOf(registryUrl: string, repository: string): Promise<string[]> {
  const response = await fetch(`${registryUrl}/v2/${repository}/tags/list`);
  if (response.status === 404) return [];
  const body = (await response.json()) as { tags?: string[] | null };
  return body.tags ?? [];
}

async function blobStatus(registryUrl: string, repository: string, digest: string) {
  return (await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, { method: "HEAD" }))
    .status;
}

/** Images for the main bundle: two repositories sharing a layer, a big layer, an index. */
function buildLayout(dir: string) {
  const layout = createLayout(dir);
  const shared = randomBytes(200_000);
  const big = randomBytes(3 * MiB + 4321);
  const nano = layout.image({
    layers: [shared, big],
    platform: { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2113" },
  });
  layout.tag("mcr.microsoft.com/windows/nanoserver:ltsc2022", nano);
  const alpine = layout.image({ layers: [shared, randomBytes(50_000)] });
  layout.tag("docker.io/library/alpine:3.19", alpine);
  const amd = layout.image({ layers: [randomBytes(40_000)] });
  const arm = layout.image({
    layers: [randomBytes(40_000)],
    platform: { os: "linux", architecture: "arm64", variant: "v8" },
  });
  const index = layout.index([
    { ...amd, platform: { os: "linux", architecture: "amd64" } },
    { ...arm, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
  ]);
  layout.tag("example.com/team/multi:1", index);
  layout.finish();
  return {
    digests: {
      "mcr.microsoft.com/windows/nanoserver:ltsc2022": nano.digest,
      "docker.io/library/alpine:3.19": alpine.digest,
      "example.com/team/multi:1": index.digest,
    } as Record<string, string>,
    shared: `sha256:${createHash("sha256").update(shared).digest("hex")}`,
    big: `sha256:${createHash("sha256").update(big).digest("hex")}`,
  };
}

/** A Docker manifest list: a Windows image with a foreign base layer, and a Linux one. */
function buildForeignLayout(layout: LayoutBuilder) {
  const foreign = randomBytes(300_000);
  const own = randomBytes(20_000);
  const foreignLayer = {
    mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ...layout.blob(foreign),
    urls: ["https://mcr.example.invalid/layers/base.tar.gz"],
  };
  const ownLayer = {
    mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ...layout.blob(own),
  };
  const config = layout.blob(
    Buffer.from(
      JSON.stringify({
        os: "windows",
        architecture: "amd64",
        "os.version": "10.0.14393.4000",
        rootfs: { type: "layers", diff_ids: [sha256(foreign), sha256(own)] },
      }),
    ),
  );
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { mediaType: "application/vnd.docker.container.image.v1+json", ...config },
      layers: [foreignLayer, ownLayer],
    }),
  );
  const windows = layout.blob(manifestBytes);
  const linux = layout.image({ layers: [randomBytes(10_000)] });
  const listBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
      manifests: [
        {
          mediaType: "application/vnd.docker.distribution.manifest.v2+json",
          ...windows,
          platform: { os: "windows", architecture: "amd64", "os.version": "10.0.14393.4000" },
        },
        {
          mediaType: linux.mediaType,
          digest: linux.digest,
          size: linux.size,
          platform: { os: "linux", architecture: "amd64" },
        },
      ],
    }),
  );
  const list = layout.blob(listBytes);
  layout.tag("mcr.microsoft.com/windows/servercore:ltsc2016", {
    mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
    ...list,
  });
  layout.finish();
  return { list: list.digest, windows: windows.digest, foreign: sha256(foreign) };
}

describe("ferry load --to-registry and ferry push (CLI, real registry)", () => {
  const tmp = tempDir("ferry-cli-push-");
  const work = tmp.dir;
  let open: RunningRegistry;
  let locked: RunningRegistry;
  let tls: RunningRegistry;
  let certificate: string;
  let tokens: TokenServer;
  let tokenRegistry: RunningRegistry;
  let proxy: FaultProxy;
  let env: NodeJS.ProcessEnv;
  let bundle: string;
  let fixture: ReturnType<typeof buildLayout>;

  beforeAll(async () => {
    env = homeEnv(work);
    const cert = await makeCertificate(work, "registry");
    certificate = cert.certificate;
    tokens = await startTokenServer({ dir: work, users: { [USER.name]: USER.password } });
    [open, locked, tls, tokenRegistry] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: { htpasswd: { users: { [USER.name]: USER.password } } } }),
      startRegistry({ tls: cert }),
      startRegistry({ auth: tokenAuth(tokens) }),
    ]);
    proxy = await startFaultProxy(open.url);
    fixture = buildLayout(path.join(work, "layout"));
    bundle = path.join(work, "bundle.zip");
    const saved = await ferryAsync(
      ["save", `oci:${path.join(work, "layout")}`, "-o", bundle, "-q"],
      env,
    );
    expect(saved.code, saved.stderr).toBe(0);
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([open?.stop(), locked?.stop(), tls?.stop(), tokenRegistry?.stop()]);
    await tokens?.stop();
    tmp.cleanup();
  });

  /** The first upload PATCH is answered by `handler` in this process (the registry never sees it). */
  const answerFirstPatch = (handler: RespondHandler) =>
    proxy.add({
      match: /\/blobs\/uploads\//,
      method: "PATCH",
      fault: { kind: "respond", handler },
    });

  /**
   * Each test's own download cache and store: what another test pushed or loaded is never
   * known here (known blobs are mounted, never read), so any test runs alone (`-t`) or in any
   * order, and pushes under a prefix of its own.
   */
  const freshCache = (name: string) => ({
    ...env,
    FERRY_CACHE: path.join(work, `cache-${name}`),
    FERRY_STORE: path.join(work, `store-${name}`),
  });

  it("--dry-run shows where each image goes and pushes nothing", async () => {
    const result = await loadToRegistry(
      bundle,
      `${open.host}/dry`,
      ["--dry-run"],
      freshCache("dry-run"),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `mcr.microsoft.com/windows/nanoserver:ltsc2022   ${open.host}/dry/windows/nanoserver:ltsc2022`,
    );
    expect(result.stdout).toMatch(
      new RegExp(`docker.io/library/alpine:3.19 +${open.host}/dry/library/alpine:3.19`),
    );
    expect(result.stdout).toMatch(/dry run: 3 image\(s\) would be pushed/);
    expect(await tagsOf(open.url, "dry/library/alpine")).toEqual([]);
  });

  it("pushes a verified bundle: skopeo reads the same digests, and copies them back unchanged", async () => {
    const report = await pushReport(
      bundle,
      `${open.host}/mirror`,
      ["--chunk-size", "1"],
      freshCache("verified"),
    );
    expect(report.images.map((i) => i.target).sort()).toEqual(
      [
        `${open.host}/mirror/library/alpine:3.19`,
        `${open.host}/mirror/team/multi:1`,
        `${open.host}/mirror/windows/nanoserver:ltsc2022`,
      ].sort(),
    );
    for (const image of report.images) {
      expect(image.status).toBe("new");
      expect(image.digest).toBe(fixture.digests[image.source]);
      expect(skopeoRaw(image.target).digest).toBe(image.digest);
    }
    // The layer the two repositories share went up once and was mounted into the other.
    expect(report.blobs.mounted).toBe(1);
    const mountedInto = report.images.find((i) => i.blobs.mounted === 1);
    expect(mountedInto?.bytes.mounted).toBe(200_000);
    // 3 configs + 5 other layers + the shared one; 4 manifests and an index.
    expect(report.blobs.uploaded).toBe(9);
    expect(report.manifestsPushed).toBe(5);
    expect(report.uploads.chunks).toBeGreaterThanOrEqual(4);

    const inspected = run("skopeo", [
      "inspect",
      "--tls-verify=false",
      `docker://${open.host}/mirror/windows/nanoserver:ltsc2022`,
    ]);
    expect(JSON.parse(inspected.stdout).Layers).toContain(fixture.big);

    const back = path.join(work, "back");
    const copy = run("skopeo", [
      "copy",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${open.host}/mirror/team/multi:1`,
      `oci:${back}:multi`,
    ]);
    expect(copy.code, copy.stderr).toBe(0);
    const index = JSON.parse(readFileSync(path.join(back, "index.json"), "utf8"));
    expect(index.manifests[0].digest).toBe(fixture.digests["example.com/team/multi:1"]);
  });

  it("pushing again uploads nothing (no upload request reaches the registry)", async () => {
    const cache = freshCache("again");
    const first = await loadToRegistry(bundle, `${open.host}/again`, [], cache);
    expect(first.code, first.stderr).toBe(0);
    proxy.clear();
    const report = await pushReport(bundle, `${proxy.host}/again`, [], cache);
    expect(report.blobs).toEqual({ uploaded: 0, mounted: 0, skipped: 10 });
    expect(report.manifestsPushed).toBe(0);
    expect(report.images.map((i) => i.status)).toEqual(["unchanged", "unchanged", "unchanged"]);
    const writes = proxy.requests.filter((r) => r.method !== "GET" && r.method !== "HEAD");
    expect(writes).toEqual([]);
  });

  it("ferry push REF DEST from the store mounts every blob an earlier push put elsewhere", async () => {
    const own = freshCache("from-store");
    const earlier = await loadToRegistry(bundle, `${open.host}/earlier`, [], own);
    expect(earlier.code, earlier.stderr).toBe(0);
    const loaded = await ferryAsync(["load", bundle, "-q"], own);
    expect(loaded.code, loaded.stderr).toBe(0);
    const result = await ferryAsync(
      [
        "push",
        "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        `${open.host}/fleet/nano`,
        "--json",
      ],
      own,
    );
    expect(result.code, result.stderr).toBe(0);
    const report = parse(result);
    expect(report.images[0]).toMatchObject({
      target: `${open.host}/fleet/nano:ltsc2022`,
      digest: fixture.digests["mcr.microsoft.com/windows/nanoserver:ltsc2022"],
      status: "new",
      blobs: { uploaded: 0, skipped: 0, mounted: 3 },
    });
    expect(skopeoRaw(`${open.host}/fleet/nano:ltsc2022`).digest).toBe(report.images[0]?.digest);

    const mapped = await ferryAsync(
      ["push", "--to-registry", `${open.host}/bulk`, "alpine:3.19", "--json"],
      own,
    );
    expect(mapped.code, mapped.stderr).toBe(0);
    expect(parse(mapped).images[0]?.target).toBe(`${open.host}/bulk/library/alpine:3.19`);
  }, 30_000);

  it("a corrupt bundle pushes no tag at all", async () => {
    const bad = path.join(work, "corrupt.zip");
    copyFileSync(bundle, bad);
    await corruptEntry(bad, `blobs/sha256/${fixture.big.slice(7)}`);
    const result = await loadToRegistry(
      bad,
      `${open.host}/corrupt`,
      ["--chunk-size", "1"],
      freshCache("corrupt"),
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/EINTEGRITY/);
    expect(result.stderr).toContain(fixture.big);
    for (const repository of ["windows/nanoserver", "library/alpine", "team/multi"]) {
      expect(await tagsOf(open.url, `corrupt/${repository}`)).toEqual([]);
      expect(skopeoRaw(`${open.host}/corrupt/${repository}:latest`).code).not.toBe(0);
    }
    expect(await blobStatus(open.url, "corrupt/windows/nanoserver", fixture.big)).toBe(404);
  });

  it("a push killed half-way leaves no tag; the re-run completes", async () => {
    proxy.clear();
    // The first PATCH hangs (never answered): ferry is killed while it waits, the moment the
    // proxy has it (no polling, no deadline).
    let patchArrived: () => void = () => {};
    const hanging = new Promise<"hanging">((resolve) => {
      patchArrived = () => resolve("hanging");
    });
    answerFirstPatch((request) => {
      request.resume();
      patchArrived();
    });
    const child = spawn(
      process.execPath,
      [ferryBin, "load", bundle, "--to-registry", `${proxy.host}/killed`, "--chunk-size", "1"],
      { env: { ...process.env, ...freshCache("kill") }, stdio: ["ignore", "ignore", "pipe"] },
    );
    // Listened for at spawn: a ferry that ends before its PATCH hangs is reported, not awaited
    // forever.
    const ended = collectOutput(child);
    const first = await Promise.race([hanging, ended]);
    if (first !== "hanging") {
      throw new Error(`ferry ended before its first PATCH (exit ${first.code}):\n${first.stderr}`);
    }
    child.kill("SIGKILL");
    const killed = await ended;
    expect(killed.code).toBeNull();
    expect(proxy.requests.some((r) => r.fault === "respond")).toBe(true);
    expect(await tagsOf(open.url, "killed/windows/nanoserver")).toEqual([]);

    proxy.clear();
    const report = await pushReport(
      bundle,
      `${proxy.host}/killed`,
      ["--chunk-size", "1"],
      freshCache("kill"),
    );
    expect(skopeoRaw(`${open.host}/killed/windows/nanoserver:ltsc2022`).digest).toBe(
      fixture.digests["mcr.microsoft.com/windows/nanoserver:ltsc2022"],
    );
    expect(report.images.every((i) => i.status === "new")).toBe(true);
  }, 30_000);

  it("a PATCH cut mid-body is resumed where the registry stands, in the same run", async () => {
    proxy.clear();
    // The proxy takes part of the first PATCH's body, then resets: the registry never saw it,
    // so its upload session is intact and answers GET with its offset.
    answerFirstPatch((request) => {
      let seen = 0;
      request.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > 100_000) request.socket.resetAndDestroy();
      });
    });
    const report = await pushReport(
      bundle,
      `${proxy.host}/cut`,
      ["--chunk-size", "1", "--retries", "3"],
      freshCache("cut"),
    );
    expect(report.uploads.resumed).toBe(1);
    expect(report.uploads.restarted).toBe(0);
    expect(
      proxy.requests.filter((r) => r.method === "GET" && r.path.includes("/uploads/")).length,
    ).toBe(1);
    expect(skopeoRaw(`${open.host}/cut/windows/nanoserver:ltsc2022`).digest).toBe(
      fixture.digests["mcr.microsoft.com/windows/nanoserver:ltsc2022"],
    );
  });

  it("htpasswd registry: refused without credentials (nothing pushed), fine with --creds", async () => {
    const denied = await loadToRegistry(bundle, `${locked.host}/m`, [], freshCache("htpasswd"));
    expect(denied.code).toBe(5);
    expect(denied.stderr).toMatch(/EUNAUTHORIZED/);
    const creds = `${USER.name}:${USER.password}`;
    const report = await pushReport(
      bundle,
      `${locked.host}/m`,
      ["--creds", creds],
      freshCache("htpasswd"),
    );
    expect(report.blobs.mounted).toBe(1);
    const alpine = report.images.find((i) => i.source === "docker.io/library/alpine:3.19");
    expect(skopeoRaw(alpine?.target ?? "", creds).digest).toBe(alpine?.digest);
    expect(JSON.stringify(report)).not.toContain(USER.password);
  });

  it("foreign layers: pushed as blobs with their URLs, or made plain by --strip-foreign-urls", async () => {
    const layout = createLayout(path.join(work, "foreign"));
    const foreign = buildForeignLayout(layout);
    const foreignBundle = path.join(work, "foreign.zip");
    const foreignEnv = freshCache("foreign");
    const saved = await ferryAsync(
      ["save", `oci:${path.join(work, "foreign")}`, "-o", foreignBundle, "-q"],
      foreignEnv,
    );
    expect(saved.code, saved.stderr).toBe(0);

    const kept = await pushReport(foreignBundle, `${open.host}/keep`, [], foreignEnv);
    expect(kept.images[0]?.digest).toBe(foreign.list);
    expect(skopeoRaw(`${open.host}/keep/windows/servercore:ltsc2016`).digest).toBe(foreign.list);
    expect(await blobStatus(open.url, "keep/windows/servercore", foreign.foreign)).toBe(200);

    const report = await pushReport(
      foreignBundle,
      `${open.host}/strip`,
      ["--strip-foreign-urls"],
      foreignEnv,
    );
    expect(report.rewritten.map((r) => [r.from, r.layers])).toEqual([
      [foreign.windows, 1],
      [foreign.list, 0],
    ]);
    const image = report.images[0];
    expect(image?.originalDigest).toBe(foreign.list);
    expect(image?.digest).toBe(report.rewritten[1]?.to);
    const list = skopeoRaw(`${open.host}/strip/windows/servercore:ltsc2016`);
    expect(list.digest).toBe(image?.digest);
    const child = skopeoRaw(`${open.host}/strip/windows/servercore@${report.rewritten[0]?.to}`);
    const layers = (child.json as { layers: Array<{ mediaType: string; urls?: string[] }> }).layers;
    expect(layers[0]).toEqual({
      mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
      digest: foreign.foreign,
      size: 300_000,
    });
    expect(await blobStatus(open.url, "strip/windows/servercore", foreign.foreign)).toBe(200);
  });

  it("a WIM OS image goes up as an OCI artifact under PREFIX/<name>:<version>", async () => {
    const tree = await makeSourceTree(path.join(work, "tree"), {
      fileCount: 2,
      fileBytes: 5000,
    });
    const wim = path.join(work, "NanoServer.wim");
    await captureWindows(tree, wim, "NanoServer", "10.0.20348.2113", { compress: "LZX" });
    const wimBundle = path.join(work, "wim.zip");
    const wimEnv = freshCache("wim");
    const saved = await ferryAsync(["save", wim, "-o", wimBundle, "-q"], wimEnv);
    expect(saved.code, saved.stderr).toBe(0);
    const image = (await pushReport(wimBundle, `${open.host}/os`, [], wimEnv)).images[0];
    expect(image?.source).toBe("os.ferry.invalid/nanoserver:10.0.20348.2113");
    expect(image?.target).toBe(`${open.host}/os/nanoserver:10.0.20348.2113`);
    const response = await fetch(`${open.url}/v2/os/nanoserver/manifests/10.0.20348.2113`, {
      headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(sha256(bytes)).toBe(image?.digest);
    const manifest = JSON.parse(bytes.toString());
    expect(manifest.layers[0].mediaType).toBe("application/x-ms-wim");
    expect(manifest.layers[0].digest).toBe(sha256(readFileSync(wim)));
    expect(await blobStatus(open.url, "os/nanoserver", manifest.layers[0].digest)).toBe(200);
  });

  it("TLS: an unknown CA fails with ETRUST and pushes nothing; --ca-cert makes it work", async () => {
    const tlsEnv = freshCache("tls");
    const refused = await loadToRegistry(bundle, tls.host, [], tlsEnv);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/ETRUST/);
    expect(refused.stderr).toContain("--ca-cert");
    const pushed = await pushReport(bundle, tls.host, ["--ca-cert", certificate], tlsEnv);
    expect(pushed.images.map((i) => i.target)).toContain(`${tls.host}/library/alpine:3.19`);
  });

  it("token auth: asks for push scopes (and pull on the mount source)", async () => {
    const report = await pushReport(
      bundle,
      `${tokenRegistry.host}/tok`,
      ["--creds", `${USER.name}:${USER.password}`],
      freshCache("token"),
    );
    expect(report.blobs.mounted).toBe(1);
    const scopes = tokens.requests.flatMap((r) => r.scopes);
    expect(scopes).toContain("repository:tok/library/alpine:pull,push");
    expect(scopes.some((s) => /^repository:tok\/.+:pull$/.test(s))).toBe(true);
    expect(tokens.requests.every((r) => r.user === USER.name)).toBe(true);
  });

  it("refuses flags that mean the store with --to-registry", async () => {
    const result = await loadToRegistry(
      bundle,
      open.host,
      ["--platform", "linux/amd64"],
      freshCache("flags"),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--platform cannot be combined with --to-registry/);
  });
});
