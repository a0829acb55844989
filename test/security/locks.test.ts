/**
 * Locks between processes (issue 13): a stale lock is taken over by exactly one of the
 * processes racing for it, in the store's lock and in the download cache's partial locks; a
 * process that waits for a lock says who holds it. Real processes, spawned from the built CLI's
 * modules; no timing is asserted (a round ends when every racer has answered).
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryBin, repoRoot, tempDir } from "../helpers/cli.js";

const RACERS = 4;
const ROUNDS = 25;

const dist = (module: string) => pathToFileURL(path.join(repoRoot, "dist", module)).href;

/**
 * A racer: says "ready", then for each "go TARGET" line tries once to take TARGET (a lock file,
 * or a cache blob's partial) and answers "won" or "lost"; it never lets go until stdin ends.
 */
const RACER = `
import { createInterface } from "node:readline";
const [mode, cacheDir] = process.argv.slice(2);
const { acquireLock } = await import(${JSON.stringify(dist("util/lock.js"))});
const { BlobCache } = await import(${JSON.stringify(dist("cache/blob-cache.js"))});
const cache = mode === "cache" ? await BlobCache.open(cacheDir) : undefined;
const held = [];
const lines = createInterface({ input: process.stdin });
process.stdout.write("ready\\n");
for await (const line of lines) {
  const target = line.slice("go ".length);
  if (mode === "cache") {
    const claim = await cache.claimPartial({ digest: "sha256:" + target, size: 100 });
    held.push(claim);
    process.stdout.write((claim.resumable ? "won" : "lost") + "\\n");
  } else {
    try {
      held.push(await acquireLock(target, { purpose: "racing", timeoutMs: 0 }));
      process.stdout.write("won\\n");
    } catch (error) {
      process.stdout.write((error.code === "ELOCKED" ? "lost" : "error " + error.message) + "\\n");
    }
  }
}
process.exit(0);
`;

/** A child whose stdout lines are read one at a time. */
interface LineChild {
  child: ChildProcess;
  next(): Promise<string>;
}

function lineChild(child: ChildProcess): LineChild {
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let ended = false;
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  reader.on("line", (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  reader.on("close", () => {
    ended = true;
    for (const waiter of waiting.splice(0)) waiter("<exited>");
  });
  return {
    child,
    next: () =>
      new Promise((resolve) => {
        const line = lines.shift();
        if (line !== undefined) resolve(line);
        else if (ended) resolve("<exited>");
        else waiting.push(resolve);
      }),
  };
}

/** A pid that no process has any more (a child that already exited). */
function deadPid(): number {
  for (;;) {
    const pid = spawnSync(process.execPath, ["-e", ""]).pid as number;
    try {
      process.kill(pid, 0);
    } catch {
      return pid;
    }
  }
}

function stopAll(children: LineChild[]): Promise<unknown> {
  return Promise.all(
    children.map(
      ({ child }) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
          else {
            child.once("exit", resolve);
            child.stdin?.end();
          }
        }),
    ),
  );
}

describe("a stale lock is taken over by exactly one of the processes racing for it", () => {
  const tmp = tempDir("ferry-locks-");
  const script = path.join(tmp.dir, "racer.mjs");
  afterAll(() => tmp.cleanup());

  async function startRacers(mode: "lock" | "cache", cacheDir: string): Promise<LineChild[]> {
    const racers: LineChild[] = [];
    for (let i = 0; i < RACERS; i++) {
      const child = spawn(process.execPath, [script, mode, cacheDir], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      racers.push(lineChild(child));
    }
    for (const racer of racers) expect(await racer.next()).toBe("ready");
    return racers;
  }

  /** Plant a stale lock, let every racer go at it, and count the winners. */
  async function race(racers: LineChild[], target: string): Promise<string[]> {
    for (const { child } of racers) child.stdin?.write(`go ${target}\n`);
    return Promise.all(racers.map((racer) => racer.next()));
  }

  beforeAll(() => writeFileSync(script, RACER));

  /**
   * ROUNDS rounds: `plant` leaves a dead process's lock and names the racers' target; every
   * racer answers "won" or "lost", and exactly one wins each round.
   */
  async function raceRounds(racers: LineChild[], plant: (round: number) => string) {
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const answers = await race(racers, plant(round));
        expect(answers.filter((a) => !["won", "lost"].includes(a))).toEqual([]);
        expect({ round, winners: answers.filter((a) => a === "won").length }).toEqual({
          round,
          winners: 1,
        });
      }
    } finally {
      await stopAll(racers);
    }
  }

  it(`the store's lock (${ROUNDS} rounds of ${RACERS} processes)`, async () => {
    await raceRounds(await startRacers("lock", ""), (round) => {
      const file = path.join(tmp.dir, `store-${round}.lock`);
      writeFileSync(
        file,
        JSON.stringify({ pid: deadPid(), host: hostname(), since: "x", purpose: "killed load" }),
      );
      return file;
    });
  }, 240_000);

  it(`the download cache's partial lock (${ROUNDS} rounds of ${RACERS} processes)`, async () => {
    const cacheDir = path.join(tmp.dir, "cache");
    mkdirSync(path.join(cacheDir, "partial"), { recursive: true });
    await raceRounds(await startRacers("cache", cacheDir), (round) => {
      const hex = round.toString(16).padStart(64, "a");
      writeFileSync(
        path.join(cacheDir, "partial", `${hex}.lock`),
        JSON.stringify({ pid: deadPid(), host: hostname() }),
      );
      return hex;
    });
  }, 240_000);
});

describe("a process waiting for the store lock says who holds it", () => {
  const tmp = tempDir("ferry-lock-wait-");
  afterAll(() => tmp.cleanup());

  it("names the holder's pid, command, purpose and since when; then goes on", async () => {
    const store = path.join(tmp.dir, "store");
    const bundle = path.join(tmp.dir, "b.zip");
    const saved = ferry(["save", `oci:${path.join(repoRoot, "samples", "oci")}`, "-o", bundle]);
    expect(saved.code, saved.stderr).toBe(0);
    expect(ferry(["load", bundle, "--store", store]).code).toBe(0);
    // A second load has to commit under the lock (nothing changes, but it must look).
    const holderScript = path.join(tmp.dir, "holder.mjs");
    writeFileSync(
      holderScript,
      `const { Store } = await import(${JSON.stringify(dist("transports/layout/store.js"))});
const store = await Store.open(${JSON.stringify(store)});
await store.withLock("testing the wait", async () => {
  process.stdout.write("holding\\n");
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on("end", resolve));
});
`,
    );
    const holder = lineChild(
      spawn(process.execPath, [holderScript], { stdio: ["pipe", "pipe", "inherit"] }),
    );
    const holderExit = new Promise((resolve) => holder.child.once("exit", resolve));
    expect(await holder.next()).toBe("holding");

    const load = spawn(process.execPath, [ferryBin, "load", bundle, "--store", store], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const loadExit = new Promise<number | null>((resolve) => load.once("exit", resolve));
    let stderr = "";
    // Resolves at the waiting line, or when the load ends without one.
    const told = new Promise<void>((resolve) => {
      load.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("held by")) resolve();
      });
      void loadExit.then(() => resolve());
    });
    await told;
    holder.child.stdin?.end();
    await holderExit;
    const code = await loadExit;

    expect(stderr).toContain(`waiting for ${path.join(store, ".ferry", "lock")}`);
    expect(stderr).toMatch(
      new RegExp(
        `held by process ${holder.child.pid} \\(holder\\.mjs: testing the wait\\) on ${hostname()}, since \\d{4}-\\d\\d-\\d\\dT`,
      ),
    );
    expect(code).toBe(0);
  }, 200_000);
});
