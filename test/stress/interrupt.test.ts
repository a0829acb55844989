/**
 * Issue 15, interruptions: a large `ferry load`, `ferry save` and `ferry pull` (from a registry) sent
 * SIGINT, SIGTERM or SIGHUP at a point planned from their own progress (FERRY_PROGRESS=json on
 * stderr, and the download cache's journal), never after a fixed sleep; the exit listener is
 * attached at spawn. Neither can finish before the signal: the load's commit waits for the
 * store lock this test holds, the save's big layer is held back by a fault proxy. Each run must
 * exit 130 / 143 / 129 with one line saying what state things are in and what running it again
 * does, leave no temporary file (the load's staged blobs, the bundle's `OUT.zip.<pid>.<hex>.tmp`),
 * keep what resumption needs (the download cache's partial download), and the next run must
 * complete (the save resuming where the download stopped).
 *
 * And a command that does not stop cleanly (gc waiting for the lock) stops at once on the
 * first signal, saying so.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireLock, type HeldLock } from "../../src/util/lock.js";
import { ferry, ferryBin, tempDir } from "../helpers/cli.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import {
  makeImage,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImage,
} from "../helpers/registry.js";
import { saveLayout } from "../helpers/stress-bundles.js";

const MiB = 1024 * 1024;
const EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type Sig = keyof typeof EXIT;

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

interface Running {
  child: ChildProcess;
  ended: Promise<Ended>;
  /** Resolves with the first JSON stderr line `accept` takes (rejects if ferry ends first). */
  when(accept: (event: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** Start ferry with JSON progress on stderr; its exit is listened for from the start. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [ferryBin, ...args], {
    env: { ...process.env, ...env, FERRY_PROGRESS: "json" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  let pending = "";
  const waiters: Array<{
    accept: (event: Record<string, unknown>) => boolean;
    resolve: (event: Record<string, unknown>) => void;
    reject: (error: Error) => void;
  }> = [];
  const ended = new Promise<Ended>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      for (const waiter of waiters.splice(0)) {
        waiter.reject(new Error(`ferry ended (exit ${code}) before the awaited event:\n${stderr}`));
      }
      resolve({ code, signal, stderr, stdout });
    });
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    stderr += text;
    pending += text;
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      for (const waiter of [...waiters]) {
        if (!waiter.accept(event)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  return {
    child,
    ended,
    when: (accept) =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null) {
          reject(new Error(`ferry ended (exit ${child.exitCode}) before the awaited event`));
          return;
        }
        waiters.push({ accept, resolve, reject });
      }),
  };
}

/** The lines of stderr that are not JSON progress events. */
function plainLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line !== "" && !line.startsWith("{"));
}

describe("ferry load interrupted", () => {
  const tmp = tempDir("ferry-interrupt-load-");
  const bundle = path.join(tmp.dir, "big.zip");
  let total = 0;

  beforeAll(async () => {
    const layout = createLayout(path.join(tmp.dir, "layout"));
    for (const n of [1, 2, 3]) {
      layout.tag(`big.example/app:${n}`, layout.image({ layers: [randomLayer(24 * MiB)] }));
    }
    layout.finish();
    total = (await saveLayout(path.join(tmp.dir, "layout"), bundle)).bytes;
  }, 120_000);
  afterAll(() => tmp.cleanup());

  it.each(["SIGINT", "SIGTERM", "SIGHUP"] as Sig[])(
    "%s a third of the way: exit code, one line, staged blobs removed, the store as it was; the next load completes",
    async (signal) => {
      const store = path.join(tmp.dir, `store-${signal}`);
      // An empty store, and its lock held by this (running) test process: the load stages
      // every blob and then waits, it cannot commit before the signal.
      const { Store } = await import("../../src/transports/layout/store.js");
      await Store.open(store, { create: true });
      const indexBefore = readFileSync(path.join(store, "index.json"));
      const lock: HeldLock = await acquireLock(path.join(store, ".ferry", "lock"), {
        purpose: "holding the store for an interrupt test",
      });
      let at: Record<string, unknown>;
      const run = start(["load", bundle, "--store", store]);
      try {
        // The planned point: the first event after a third of the bytes were copied (a
        // finished blob or the periodic progress line), or the wait for the lock, if it comes
        // first (everything staged).
        at = await run.when(
          (event) =>
            event.event === "lock-wait" ||
            (typeof event.bytes === "number" && event.bytes >= total / 3),
        );
        run.child.kill(signal);
      } finally {
        await lock.release();
      }
      const ended = await run.ended;
      const what = `${signal} at ${JSON.stringify(at)}:\n${ended.stderr}`;
      console.log(
        `load, ${signal}: sent at ${at.event === "lock-wait" ? "the wait for the store lock (all staged)" : `${at.bytes} of ${total} bytes copied`}`,
      );
      expect(ended.code, what).toBe(EXIT[signal]);
      expect(plainLines(ended.stderr), what).toEqual([
        `ferry: interrupted by ${signal} before anything was committed: store ${store} is as it was before, and this run's temporary files were removed; running the same command again starts over (blobs already at the destination or in the download cache are not transferred again)`,
      ]);
      expect(readdirSync(path.join(store, ".ferry", "tmp")), what).toEqual([]);
      expect(readdirSync(path.join(store, "blobs", "sha256")), what).toEqual([]);
      expect(readFileSync(path.join(store, "index.json")).equals(indexBefore), what).toBe(true);

      const again = ferry(["load", bundle, "--store", store, "-q"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/loaded 3 image\(s\)/);
      expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
    },
    120_000,
  );

  it("a command that does not stop cleanly (gc waiting for the lock) stops at once: 130", async () => {
    const store = path.join(tmp.dir, "store-gc");
    const { Store } = await import("../../src/transports/layout/store.js");
    await Store.open(store, { create: true });
    const lock = await acquireLock(path.join(store, ".ferry", "lock"), { purpose: "holding" });
    try {
      const run = start(["gc", "--store", store]);
      await run.when((event) => event.event === "lock-wait");
      run.child.kill("SIGINT");
      const ended = await run.ended;
      expect(ended.code).toBe(130);
      expect(plainLines(ended.stderr)).toEqual([
        "ferry: interrupted by SIGINT: nothing was left half-written (ferry writes every file under a temporary name and renames it when complete), and this run's temporary files were removed; running the same command again starts over",
      ]);
    } finally {
      await lock.release();
    }
  });
});

describe("ferry save from a registry interrupted", () => {
  const tmp = tempDir("ferry-interrupt-save-");
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let image: TestImage;
  let bigDigest: string;
  const bigSize = 48 * MiB;
  const env = () => ({
    HOME: tmp.dir,
    FERRY_AUTH_FILE: path.join(tmp.dir, "auth.json"),
    DOCKER_CONFIG: path.join(tmp.dir, "docker"),
  });

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    image = makeImage({ layers: [randomBytes(bigSize), randomBytes(2000)] });
    bigDigest = image.layers[0]?.digest ?? "";
    await pushImage(registry.url, "big/app", "1", image);
  }, 120_000);
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    tmp.cleanup();
  });

  /**
   * Run the same command again, nothing held back: it completes, asking the registry only for
   * the big layer's bytes after the `kept` ones (not spawnSync: the proxy runs in this process).
   */
  async function resumes(args: string[], kept: number): Promise<void> {
    proxy.clear();
    const before = proxy.requests.length;
    const again = await start([...args, "-q"], env()).ended;
    expect(again.code, again.stderr).toBe(0);
    const bigRequests = proxy.requests.slice(before).filter((r) => r.path.endsWith(bigDigest));
    expect(bigRequests).toHaveLength(1);
    expect(bigRequests[0]?.range).toBe(`bytes=${kept}-`);
  }

  /** Bytes of the big layer the cache's journal says landed (in the bundle, or in partial/). */
  function landed(cache: string): number {
    const dir = path.join(cache, "journal");
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      if (!name.endsWith(`-${bigDigest.slice(7)}.json`)) continue;
      try {
        const entry = JSON.parse(readFileSync(path.join(dir, name), "utf8"));
        return typeof entry.length === "number" ? entry.length : 0;
      } catch {
        return 0;
      }
    }
    return 0;
  }

  it.each(["SIGINT", "SIGTERM"] as Sig[])(
    "%s half-way through the big layer: exit code, one line, no temp bundle, the download kept; the next save resumes",
    async (signal) => {
      const out = path.join(tmp.dir, `${signal}.zip`);
      const cache = path.join(tmp.dir, `cache-${signal}`);
      proxy.clear();
      proxy.add({
        match: new RegExp(`/blobs/${bigDigest}$`),
        fault: { kind: "stall", afterBytes: 24 * MiB },
      });
      const args = ["save", `${proxy.host}/big/app:1`, "-o", out, "--cache", cache];
      const run = start(args, env());
      let ended = false;
      void run.ended.then(() => {
        ended = true;
      });
      // The planned point: 24 MiB of the layer sent (the proxy counts), and the cache's
      // journal says they landed (it catches up every 4 MiB, else 250 ms after the last byte;
      // polled, with no deadline: only a slow machine makes this take longer).
      await proxy.waitForBytes(bigDigest, 24 * MiB);
      while (landed(cache) < 23 * MiB) {
        if (ended)
          throw new Error(`the save ended before the signal:\n${(await run.ended).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const atSignal = landed(cache);
      run.child.kill(signal);
      const result = await run.ended;
      const what = `${signal}:\n${result.stderr}`;
      expect(result.code, what).toBe(EXIT[signal]);
      const lines = plainLines(result.stderr).filter((line) => !line.startsWith("platform "));
      expect(lines, what).toEqual([
        `ferry: interrupted by ${signal} before anything was committed: bundle ${out} is as it was before, and this run's temporary files were removed; running the same command again starts over (blobs already at the destination or in the download cache are not transferred again)`,
      ]);
      // No bundle and no temp bundle; what was downloaded is in the cache's partial/ now.
      expect(
        readdirSync(tmp.dir).filter((name) => name.startsWith(`${signal}.zip`)),
        what,
      ).toEqual([]);
      // Salvaged into the cache: the partial download of the big layer, at least what had
      // landed when the signal was sent.
      const partial = readdirSync(path.join(cache, "partial")).filter((name) =>
        name.startsWith(bigDigest.slice(7)),
      );
      expect(partial, what).toEqual([bigDigest.slice(7)]);
      const kept = statSync(path.join(cache, "partial", bigDigest.slice(7))).size;
      expect(kept, what).toBeGreaterThanOrEqual(atSignal);

      await resumes(args, kept);
      expect(ferry(["verify", out, "-q"]).code).toBe(0);
      expect(readdirSync(tmp.dir).filter((name) => name.startsWith(`${signal}.zip.`))).toEqual([]);
    },
    120_000,
  );

  it("pull, SIGINT half-way through the big layer: exit 130, the store as it was, the download kept; the next pull resumes", async () => {
    const store = path.join(tmp.dir, "pull-store");
    const cache = path.join(tmp.dir, "cache-pull");
    proxy.clear();
    proxy.add({
      match: new RegExp(`/blobs/${bigDigest}$`),
      fault: { kind: "stall", afterBytes: 24 * MiB },
    });
    const args = ["pull", `${proxy.host}/big/app:1`, "--store", store, "--cache", cache];
    const run = start(args, env());
    // The planned point: 24 MiB of the layer sent (the proxy counts them).
    await proxy.waitForBytes(bigDigest, 24 * MiB);
    run.child.kill("SIGINT");
    const result = await run.ended;
    const what = `pull:\n${result.stderr}`;
    expect(result.code, what).toBe(130);
    const lines = plainLines(result.stderr).filter((line) => !line.startsWith("platform "));
    expect(lines, what).toEqual([
      `ferry: interrupted by SIGINT before anything was committed: store ${store} is as it was before, and this run's temporary files were removed; running the same command again starts over (blobs already at the destination or in the download cache are not transferred again)`,
    ]);
    expect(readdirSync(path.join(store, ".ferry", "tmp")), what).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(store, "index.json"), "utf8")).manifests).toEqual([]);
    const partial = path.join(cache, "partial", bigDigest.slice(7));
    const kept = statSync(partial).size;
    expect(kept, what).toBeGreaterThan(0);

    await resumes(args, kept);
    expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
  }, 120_000);
});
