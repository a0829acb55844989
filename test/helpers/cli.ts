import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ferryBin = path.join(repoRoot, "bin", "ferry");
/** samples/oci: the checked-in OCI layout most CLI tests save from. */
export const samplesOci = path.join(repoRoot, "samples", "oci");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built ferry CLI as a user would (`npm test` builds first). */
export function ferry(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): RunResult {
  const result = spawnSync(process.execPath, [ferryBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Run ferry and parse its --json output. */
export function ferryJson<T = Record<string, unknown>>(
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): { code: number; json: T; stderr: string } {
  const result = ferry([...args, "--json"], options);
  let json: T;
  try {
    json = JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `ferry ${args.join(" ")} printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { code: result.code, json, stderr: result.stderr };
}

/**
 * Start ferry in the background (for kill tests). `exited` is listened for at spawn, so it
 * settles even when the process ends before anyone awaits it.
 */
export function spawnFerry(args: string[], options: SpawnOptions = {}) {
  const child = spawn(process.execPath, [ferryBin, ...args], {
    cwd: repoRoot,
    stdio: "ignore",
    ...options,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve({ code, signal }));
    },
  );
  return Object.assign(child, { exited });
}

export interface FerryAsyncOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to ferry's stdin, which is then closed (no stdin at all without it). */
  input?: string;
  /** Kill (SIGKILL) a ferry still running after this long, so a hang ends the suite. */
  safetyNetMs?: number;
}

/** What an asynchronous ferry did: `code` is null when a signal ended it (`killed`). */
export interface AsyncRun {
  code: number | null;
  killed: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Collect a child's output until it closes. Listeners are attached now: call it right after
 * spawning, so a child that ends before anyone awaits it is still reported.
 */
export function collectOutput(child: ChildProcess): Promise<AsyncRun> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) =>
      resolve({ code, killed: signal !== null, stdout, stderr }),
    );
  });
}

/**
 * Start the built ferry without blocking this process: needed when the test serves ferry's
 * requests itself (a proxy or a fake registry in the test process). `done` is listened for at
 * spawn time.
 */
export function startFerry(
  args: string[],
  options: FerryAsyncOptions = {},
): { child: ChildProcess; done: Promise<AsyncRun> } {
  const child = spawn(process.execPath, [ferryBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    ...(options.safetyNetMs ? { timeout: options.safetyNetMs, killSignal: "SIGKILL" } : {}),
  });
  const done = collectOutput(child);
  child.stdin?.end(options.input);
  return { child, done };
}

/** startFerry, awaited: what ferry printed and how it ended. */
export function ferryAsync(args: string[], options: FerryAsyncOptions = {}): Promise<AsyncRun> {
  return startFerry(args, options).done;
}

/** `ferry load BUNDLE --to-registry TARGET FLAGS...`, not blocking this process. */
export function loadToRegistry(
  bundle: string,
  target: string,
  flags: string[],
  env: NodeJS.ProcessEnv,
): Promise<AsyncRun> {
  return ferryAsync(["load", bundle, "--to-registry", target, ...flags], { env });
}

/** Uploaded, skipped, mounted: blob counts (or their bytes) in a push report. */
export interface PushCounts {
  uploaded: number;
  skipped: number;
  mounted: number;
}

/** What `ferry load --to-registry --json` and `ferry push --json` print. */
export interface PushJson {
  registry: string;
  dryRun: boolean;
  images: Array<{
    source: string;
    target: string;
    digest: string;
    status: string;
    previous?: string;
    originalDigest?: string;
    blobs: PushCounts;
    bytes: PushCounts;
    manifests: { pushed: number; present: number };
  }>;
  blobs: PushCounts;
  bytes: PushCounts;
  manifestsPushed: number;
  rewritten: Array<{ image: string; from: string; to: string; layers: number }>;
  uploads: { resumed: number; restarted: number; chunks: number };
  verified?: { blobs: number; bytes: number };
}

/**
 * `ferry load BUNDLE --to-registry TARGET FLAGS... --json` that must succeed: its JSON report.
 * A push that fails throws with ferry's exit code and what it printed.
 */
export async function pushReport(
  bundle: string,
  target: string,
  flags: string[],
  env: NodeJS.ProcessEnv,
): Promise<PushJson> {
  const result = await loadToRegistry(bundle, target, [...flags, "--json"], env);
  if (result.code !== 0) {
    throw new Error(`push to ${target} failed (exit ${result.code}):\n${result.stderr}`);
  }
  return jsonOutput<PushJson>(result);
}

/** ferry's --json output, parsed; when it is not JSON, the error shows the exit code and output. */
export function jsonOutput<T>(run: { code: number | null; stdout: string; stderr: string }): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** Run another program (skopeo, umoci, unzip, sha256sum). */
export function run(command: string, args: string[], cwd?: string): RunResult {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * An environment that keeps ferry's per-user files under `home` (auth file, docker config,
 * download cache, store) and turns progress output off.
 */
export function homeEnv(home: string): NodeJS.ProcessEnv {
  return {
    HOME: home,
    FERRY_AUTH_FILE: path.join(home, "auth.json"),
    DOCKER_CONFIG: path.join(home, "docker"),
    FERRY_CACHE: path.join(home, "cache"),
    FERRY_STORE: path.join(home, "store"),
    FERRY_PROGRESS: "none",
  };
}

/** A temp directory removed after the test file. */
export function tempDir(prefix = "ferry-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The sample `docker save` archive with its one manifest.json entry made two (tags
 * example.com/first/app:1 and example.com/second/app:2), written to `archive` (unpacked in
 * `archive`'s folder under `two/`).
 */
export function twoImageDockerArchive(archive: string): void {
  const root = path.join(path.dirname(archive), "two");
  mkdirSync(root);
  const sample = path.join(repoRoot, "samples", "docker-save.tar");
  if (run("tar", ["-xf", sample, "-C", root]).code !== 0)
    throw new Error(`cannot unpack ${sample}`);
  const [entry] = JSON.parse(readFileSync(path.join(root, "manifest.json"), "utf8"));
  writeFileSync(
    path.join(root, "manifest.json"),
    JSON.stringify([
      { ...entry, RepoTags: ["example.com/first/app:1"] },
      { ...entry, RepoTags: ["example.com/second/app:2"] },
    ]),
  );
  if (run("tar", ["-C", root, "-cf", archive, "."]).code !== 0)
    throw new Error(`cannot write ${archive}`);
}
