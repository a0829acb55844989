/**
 * Killing ferry at seeded instants (issue 7's crash tests): run it with JSON progress, watch
 * for the engine's commit event, send SIGKILL at a planned point before or after it.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ferryBin } from "../helpers/cli.js";
import type { Rng } from "../helpers/seeded.js";

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  /** ms after spawn at which the engine announced its commit (FERRY_PROGRESS=json). */
  commitAt?: number;
  /** ms after spawn at which the kill was sent. */
  killedAt?: number;
  /** The process had already exited when the kill was due. */
  finishedFirst: boolean;
}

/** When to send SIGKILL: ms after spawn, or ms after the engine's commit event. */
export type KillAt = { afterSpawn: number } | { afterCommit: number };

/** Run ferry with JSON progress on stderr; SIGKILL it at `kill` (never, when undefined). */
export function runFerry(args: string[], kill?: KillAt, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [ferryBin, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env, FERRY_PROGRESS: "json" },
  });
  const run: Run = { code: null, signal: null, ms: 0, finishedFirst: false };
  let exited = false;
  let timer: NodeJS.Timeout | undefined;
  const killIn = (ms: number) => {
    timer = setTimeout(() => {
      if (exited) return;
      run.killedAt = Date.now() - started;
      child.kill("SIGKILL");
    }, ms);
  };
  if (kill && "afterSpawn" in kill) killIn(kill.afterSpawn);
  let pending = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
      if (run.commitAt === undefined && line.includes('"event":"commit"')) {
        run.commitAt = Date.now() - started;
        if (kill && "afterCommit" in kill) killIn(kill.afterCommit);
      }
    }
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      exited = true;
      if (timer) clearTimeout(timer);
      run.code = code;
      run.signal = signal;
      run.ms = Date.now() - started;
      run.finishedFirst = kill !== undefined && signal === null;
      resolve(run);
    });
  });
}

/** The kill plan: about 2/3 of trials spread before the commit, the rest over the commit. */
export function killPlan(rng: Rng, trials: number, measured: Run): KillAt[] {
  const commitAt = measured.commitAt ?? measured.ms;
  const commitLength = Math.max(20, measured.ms - commitAt);
  const before = Math.ceil((trials * 2) / 3);
  return [
    ...killPoints(rng, before, 0, commitAt).map((ms): KillAt => ({ afterSpawn: ms })),
    ...killPoints(rng, trials - before, 0, commitLength * 1.2).map(
      (ms): KillAt => ({ afterCommit: ms }),
    ),
  ];
}

export const describeKill = (kill: KillAt) =>
  "afterSpawn" in kill ? `${kill.afterSpawn} ms` : `commit + ${kill.afterCommit} ms`;

/** Stratified, seeded kill points over [from, to): trial i falls in the i-th slice. */
function killPoints(rng: Rng, count: number, from: number, to: number): number[] {
  return Array.from({ length: count }, (_, i) =>
    Math.round(from + ((to - from) * (i + rng.next())) / count),
  );
}

export interface CheckJson {
  ok: boolean;
  images: number;
  problems: Array<{ message: string }>;
  staleTemp: string[];
  orphans: unknown[];
}

export function storeNames(store: string): string[] {
  const index = JSON.parse(readFileSync(path.join(store, "index.json"), "utf8")) as {
    manifests: Array<{ annotations?: Record<string, string> }>;
  };
  return index.manifests
    .map((d) => d.annotations?.["org.opencontainers.image.ref.name"] ?? "?")
    .sort();
}
