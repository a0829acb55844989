import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFerry } from "../helpers/cli.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import {
  makeImage,
  pushForeignLayerImage,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImage,
} from "../helpers/registry.js";

const MiB = 1024 * 1024;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ferry(
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): { child: ChildProcess; done: Promise<Run> } {
  return startFerry(args, { env, input: input ?? "" });
}

describe("ferry save from a registry (CLI)", () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let big: TestImage;
  let bigDigest: string;
  const bigSize = 64 * MiB;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-cli-save-"));
    env = {
      HOME: work,
      FERRY_AUTH_FILE: join(work, "auth.json"),
      DOCKER_CONFIG: join(work, "docker"),
      FERRY_CACHE: join(work, "default-cache"),
    };
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    big = makeImage({ layers: [randomBytes(bigSize), randomBytes(1000)] });
    bigDigest = big.layers[0]?.digest ?? "";
    await pushImage(registry.url, "big/app", "1", big);
    await pushForeignLayerImage(registry.url, "windows/old");
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("saves a bare reference, says which platform it chose, and prints a JSON summary", async () => {
    const out = join(work, "plain.zip");
    const { done } = ferry(
      ["save", `${registry.host}/big/app:1`, "-o", out, "--cache", join(work, "c1")],
      env,
    );
    const run = await done;
    expect(run.stderr).toMatch(/platform linux\/amd64 \(this machine's/);
    expect(run.stderr).toMatch(/downloaded 67\.1MB \(3 blobs\)/);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${registry.host}/big/app:1`);

    const json = await ferry(
      [
        "save",
        `docker://${registry.host}/big/app:1`,
        "-o",
        join(work, "j.zip"),
        "--cache",
        join(work, "c1"),
        "--json",
      ],
      env,
    ).done;
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout);
    expect(summary.images[0]).toMatchObject({ digest: big.digest, platforms: ["linux/amd64"] });
    expect(json.stderr).toBe("");
  });

  it("killed half-way through a large blob, the next run downloads only the rest", async () => {
    const out = join(work, "resume.zip");
    const cache = join(work, "c-resume");
    proxy.clear();
    proxy.add({
      match: new RegExp(`/blobs/${bigDigest}$`),
      fault: { kind: "stall", afterBytes: 32 * MiB },
    });
    const first = ferry(["save", `${proxy.host}/big/app:1`, "-o", out, "--cache", cache], env);
    await proxy.waitForBytes(bigDigest, 32 * MiB);
    // The bytes go straight into the bundle's temp file; the cache journals how many landed.
    // Let them land, then kill without warning.
    const journalDir = join(cache, "journal");
    const landed = async (): Promise<number> => {
      for (const name of await readdir(journalDir).catch(() => [] as string[])) {
        if (!name.endsWith(`-${bigDigest.slice(7)}.json`)) continue;
        const entry = JSON.parse(await readFile(join(journalDir, name), "utf8").catch(() => "{}"));
        return typeof entry.length === "number" ? entry.length : 0;
      }
      return 0;
    };
    // The journal catches up (every 4 MiB, else 250 ms after the last byte); no deadline: the
    // bytes are all there, only a slow machine makes this take longer. A save that ended
    // meanwhile fails the test with its output instead of leaving it waiting.
    let ended = false;
    void first.done.then(() => {
      ended = true;
    });
    while ((await landed()) < 31 * MiB) {
      if (ended)
        throw new Error(`the save ended before it was killed:\n${(await first.done).stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const kept = await landed();
    first.child.kill("SIGKILL");
    const killed = await first.done;
    expect(killed.code).toBeNull();
    await expect(stat(out)).rejects.toThrow();
    expect(kept).toBeGreaterThanOrEqual(31 * MiB);
    // The killed run's temp bundle is still there, until the next run takes its bytes over.
    expect((await readdir(work)).filter((name) => name.startsWith("resume.zip."))).toHaveLength(1);

    proxy.clear();
    const second = await ferry(
      ["save", `${proxy.host}/big/app:1`, "-o", out, "--cache", cache],
      env,
    ).done;
    expect(second.code).toBe(0);
    const blobRequests = proxy.requests.filter((r) => r.path.endsWith(bigDigest));
    expect(blobRequests).toHaveLength(1);
    expect(blobRequests[0]?.range).toBe(`bytes=${kept}-`);
    const refetched = proxy.bytesSent.get(`/v2/big/app/blobs/${bigDigest}`) ?? 0;
    expect(refetched).toBe(bigSize - kept);
    expect(refetched).toBeLessThanOrEqual(33 * MiB);
    expect(second.stderr).toMatch(/1 resumed after 3\d\.\dMB already there/);
    expect((await stat(out)).size).toBeGreaterThan(bigSize);
    expect(await readdir(join(cache, "partial"))).toEqual([]);
    expect(await readdir(journalDir)).toEqual([]);
    expect((await readdir(work)).filter((name) => name.startsWith("resume.zip."))).toEqual([]);
  });

  it("--skip-foreign says what it left out", async () => {
    const run = await ferry(
      [
        "save",
        `${registry.host}/windows/old:1`,
        "-o",
        join(work, "win.zip"),
        "--platform",
        "windows/amd64",
        "--skip-foreign",
        "--cache",
        join(work, "c2"),
      ],
      env,
    ).done;
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/left out 1 foreign layer\(s\) \(--skip-foreign\)/);
  });

  it("a malformed reference is a usage error; a missing image exits 4", async () => {
    const bad = await ferry(["save", "docker://Upper/Case:1", "-o", join(work, "x.zip")], env).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/EBADREF.*must be lowercase/);
    const missing = await ferry(
      ["save", `${registry.host}/nope/nope:1`, "-o", join(work, "y.zip"), "--json"],
      env,
    ).done;
    expect(missing.code).toBe(4);
    expect(JSON.parse(missing.stdout).error.code).toBe("ENOTFOUND");
  });
});
