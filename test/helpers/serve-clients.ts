/**
 * The real clients that pull from `ferry serve` in its tests: a dockerd and a containerd of
 * their own (Debian's docker.io 20.10 and containerd 1.6), each started as root in a temp folder
 * (data, exec root or state, sockets), with no networking set up (`--iptables=false
 * --bridge=none`) and the vfs storage driver, since containers cannot run in the sandbox but
 * images pull and unpack. A daemon is ready once its socket answers (`/_ping`, `ctr version`);
 * its exit listener is attached at spawn, so a daemon that dies early fails the start with the
 * end of its log. `stop()` ends it, unmounts what it left mounted in its folder, removes it.
 *
 * `daemonSkipReason` says why a daemon cannot start here (not root, not installed); the tests
 * print it loudly and skip. With CI=true it is always undefined: a missing engine fails in CI.
 */

import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

function runs(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why `daemon` cannot be started here; undefined when it can (and always in CI). */
export function daemonSkipReason(daemon: "dockerd" | "containerd"): string | undefined {
  if (process.env.CI === "true") return undefined;
  if (process.getuid?.() !== 0) return `${daemon} starts as root only (run the tests as root)`;
  const checks: Array<[string, string[]]> =
    daemon === "dockerd"
      ? [
          ["dockerd", ["--version"]],
          ["docker", ["--version"]],
        ]
      : [
          ["containerd", ["--version"]],
          ["ctr", ["--version"]],
        ];
  for (const [binary, args] of checks) {
    if (!runs(binary, args))
      return `${binary} is not installed (apt-get install docker.io containerd)`;
  }
  return undefined;
}

/** Print a skip reason where nobody misses it. */
export function warnSkipped(what: string, reason: string | undefined): void {
  if (reason !== undefined) console.warn(`\n*** SKIPPED: ${what}: ${reason} ***\n`);
}

interface Watched {
  exited: Promise<number | null>;
  /** The last 256 KiB the daemon printed. */
  log(): string;
}

function watchDaemon(child: ChildProcess): Watched {
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-256 * 1024);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(-1));
  });
  return { exited, log: () => output };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilReady(
  what: string,
  ready: () => Promise<boolean>,
  daemon: Watched,
): Promise<void> {
  let ended = false;
  void daemon.exited.then(() => {
    ended = true;
  });
  for (;;) {
    if (ended) throw new Error(`${what} ended before it was ready:\n${daemon.log()}`);
    if (await ready()) return;
    await sleep(100);
  }
}

async function stopDaemon(child: ChildProcess, daemon: Watched, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await daemon.exited;
    clearTimeout(timer);
  }
  const mounted = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((point): point is string => point?.startsWith(`${dir}/`) === true)
    .sort((a, b) => b.length - a.length);
  for (const point of mounted) await execFileAsync("umount", ["-l", point]).catch(() => {});
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

export interface Dockerd {
  /** Run the docker CLI against this daemon; its stdout. */
  docker(args: string[]): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

function pingDocker(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ask = http.get({ socketPath: socket, path: "/_ping" }, (answer) => {
      answer.resume();
      resolve(answer.statusCode === 200);
    });
    ask.on("error", () => resolve(false));
  });
}

/**
 * A dockerd of its own. It treats 127.0.0.0/8 registries as insecure (plain HTTP) by default,
 * which is how `docker pull 127.0.0.1:PORT/...` reaches ferry serve without TLS.
 */
export async function startDockerd(): Promise<Dockerd> {
  const dir = await mkdtemp(path.join(tmpdir(), "ferry-serve-dockerd-"));
  const socket = path.join(dir, "docker.sock");
  const child = spawn(
    "dockerd",
    [
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      "--storage-driver=vfs",
      "--data-root",
      path.join(dir, "data"),
      "--exec-root",
      path.join(dir, "exec"),
      "--pidfile",
      path.join(dir, "docker.pid"),
      "-H",
      `unix://${socket}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const daemon = watchDaemon(child);
  const stop = async () => {
    await stopDaemon(child, daemon, dir);
  };
  try {
    await waitUntilReady("dockerd", () => pingDocker(socket), daemon);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    log: daemon.log,
    stop,
    docker: async (args) =>
      (
        await execFileAsync("docker", args, {
          env: {
            ...process.env,
            DOCKER_HOST: `unix://${socket}`,
            DOCKER_CONFIG: path.join(dir, "cli"),
          },
          maxBuffer: 16 * 1024 * 1024,
        })
      ).stdout,
  };
}

export interface Containerd {
  /** Run ctr against this containerd in `namespace`; its stdout. */
  ctr(namespace: string, args: string[]): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/**
 * A containerd of its own, from a temp config: its root, state and sockets, no debug or
 * metrics listener, and no CRI plugin (which wants CNI and a network the sandbox has not).
 */
export async function startContainerd(): Promise<Containerd> {
  const dir = await mkdtemp(path.join(tmpdir(), "ferry-serve-containerd-"));
  const address = path.join(dir, "containerd.sock");
  const config = path.join(dir, "config.toml");
  await writeFile(
    config,
    [
      "version = 2",
      `root = "${path.join(dir, "root")}"`,
      `state = "${path.join(dir, "state")}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${address}"`,
      "[ttrpc]",
      `  address = "${path.join(dir, "containerd.sock.ttrpc")}"`,
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
      "",
    ].join("\n"),
  );
  const child = spawn("containerd", ["--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  const daemon = watchDaemon(child);
  const ctr = async (namespace: string, args: string[]) =>
    (
      await execFileAsync("ctr", ["-a", address, "-n", namespace, ...args], {
        maxBuffer: 16 * 1024 * 1024,
      })
    ).stdout;
  const stop = async () => {
    await stopDaemon(child, daemon, dir);
  };
  try {
    await waitUntilReady(
      "containerd",
      async () =>
        existsSync(address) &&
        ctr("default", ["version"]).then(
          () => true,
          () => false,
        ),
      daemon,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { ctr, log: daemon.log, stop };
}

/** `ctr images ls` of a namespace: reference -> target digest. */
export async function ctrImageDigests(
  containerd: Containerd,
  namespace: string,
): Promise<Map<string, string>> {
  const listed = new Map<string, string>();
  const lines = (await containerd.ctr(namespace, ["images", "ls"])).split("\n").slice(1);
  for (const line of lines) {
    const [name, , digest] = line.trim().split(/\s+/);
    if (name && digest?.startsWith("sha256:")) listed.set(name, digest);
  }
  return listed;
}
