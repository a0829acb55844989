/**
 * Real container engines for tests: Debian's `docker.io` (dockerd 20.10) and `containerd` (1.6,
 * with `ctr`), each started as root in a temp folder of its own — data, exec root, pid file and
 * socket — with no network setup (`--iptables=false --ip6tables=false --bridge=none`) and the
 * `vfs` storage driver, so that images load, list, tag and save in a sandbox where containers
 * cannot run. Ready once the socket answers (`/_ping`; `ctr version` for containerd), with the
 * exit listener attached at spawn: a daemon that dies early fails the start with its log.
 * `stop()` ends the daemon (and the containerd dockerd started for itself), unmounts what it
 * left mounted under its folder and removes the folder.
 *
 * `engineSkipReason` says why these tests cannot run here (not root, a binary missing); in CI
 * (`CI=true`) it is always undefined, so a missing engine fails the tests instead of skipping.
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { commandRuns } from "./installed.js";

const run = promisify(execFile);

/** Why real engines cannot start here (undefined: they can, and always in CI). */
export function engineSkipReason(needs: Array<"dockerd" | "containerd">): string | undefined {
  if (process.env.CI === "true") return undefined;
  if (process.getuid?.() !== 0) return "the engines start as root only (run the tests as root)";
  for (const need of needs) {
    const [binary, args] = need === "dockerd" ? ["dockerd", ["--version"]] : ["ctr", ["--version"]];
    if (!commandRuns(binary as string, args as string[])) {
      return `${binary} is not installed (scripts/setup.sh installs docker.io and containerd)`;
    }
  }
  return undefined;
}

/** Print the reason loudly once, so a skipped engine test is never silent. */
export function announceSkip(what: string, reason: string | undefined): void {
  if (reason) console.warn(`\n*** SKIPPED ${what}: ${reason} ***\n`);
}

/** A daemon child: its exit as a promise (listener attached at spawn) and the tail of its log. */
function watch(child: ChildProcess): { exited: Promise<number | null>; log: () => string } {
  let output = "";
  const hear = (data: Buffer) => {
    output = (output + data.toString()).slice(-256 * 1024);
  };
  child.stdout?.on("data", hear);
  child.stderr?.on("data", hear);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(-1));
  });
  return { exited, log: () => output };
}

/** GET /_ping over a unix socket: true when the engine answers OK. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath: socket, path: "/_ping", host: "localhost" }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    request.on("error", () => resolve(false));
  });
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until `ready()` or the daemon exits (then fail with its log). */
async function untilReady(
  what: string,
  ready: () => Promise<boolean>,
  exited: Promise<number | null>,
  log: () => string,
): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error(`${what} exited before it was ready:\n${log()}`);
    if (await ready()) return;
    await pause(100);
  }
}

/** Unmount whatever is still mounted under `dir` (deepest first), then remove it. */
async function removeDaemonDir(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((point): point is string => !!point && (point === dir || point.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run("umount", ["-l", point]).catch(() => {});
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** End a daemon: SIGTERM (it stops cleanly), SIGKILL if it does not end in time. */
async function end(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}

function killPidFile(file: string): void {
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

export interface RunningDocker {
  /** `unix:///.../docker.sock`: the DOCKER_HOST of this engine. */
  host: string;
  socket: string;
  dir: string;
  /** Run the docker CLI against this engine; its stdout. */
  docker(args: string[]): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/** Start a dockerd of its own (vfs, no networking) and wait until it answers. */
export async function startDockerd(): Promise<RunningDocker> {
  const dir = await mkdtemp(path.join(tmpdir(), "ferry-dockerd-"));
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
  const { exited, log } = watch(child);
  const host = `unix://${socket}`;
  const stop = async () => {
    await end(child, exited);
    // The containerd dockerd started for itself, should it have outlived it.
    killPidFile(path.join(dir, "exec", "containerd", "containerd.pid"));
    await removeDaemonDir(dir);
  };
  try {
    await untilReady("dockerd", () => ping(socket), exited, log);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host,
    socket,
    dir,
    log,
    stop,
    async docker(args) {
      const { stdout } = await run("docker", args, {
        env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: path.join(dir, "cli") },
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    },
  };
}

export interface RunningContainerd {
  /** Its grpc socket (`ctr -a`). */
  address: string;
  dir: string;
  /** Run ctr against this containerd in a namespace; its stdout. */
  ctr(namespace: string, args: string[]): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Start a containerd of its own: a temp config giving its root, state, grpc/ttrpc sockets, no
 * debug or metrics listener, and no CRI plugin (it wants CNI and a network this sandbox has not).
 */
export async function startContainerd(): Promise<RunningContainerd> {
  const dir = await mkdtemp(path.join(tmpdir(), "ferry-containerd-"));
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
  const { exited, log } = watch(child);
  const ctr = async (namespace: string, args: string[]) =>
    (await run("ctr", ["-a", address, "-n", namespace, ...args], { maxBuffer: 64 * 1024 * 1024 }))
      .stdout;
  const stop = async () => {
    await end(child, exited);
    await removeDaemonDir(dir);
  };
  try {
    await untilReady(
      "containerd",
      async () =>
        existsSync(address) &&
        (await ctr("default", ["version"]).then(
          () => true,
          () => false,
        )),
      exited,
      log,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, dir, ctr, log, stop };
}

/** The images of a namespace as `ctr images ls` shows them: name -> digest and platforms. */
export async function ctrImages(
  containerd: RunningContainerd,
  namespace: string,
): Promise<Map<string, { digest: string; platforms: string }>> {
  const images = new Map<string, { digest: string; platforms: string }>();
  for (const line of (await containerd.ctr(namespace, ["images", "ls"])).split("\n").slice(1)) {
    const [name, , digest, size, unit, platforms] = line.trim().split(/\s+/);
    if (name && digest && size && unit) images.set(name, { digest, platforms: platforms ?? "" });
  }
  return images;
}

// ---------------------------------------------------------------------------------------------
// Image tars made by the tests (no `docker build` here)

/** One 512-byte ustar header. */
function tarHeader(name: string, size: number, type: "0" | "5"): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write(type === "5" ? "0000755\0" : "0000644\0", 100, "ascii");
  header.write("0000000\0", 108, "ascii");
  header.write("0000000\0", 116, "ascii");
  header.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "ascii");
  header.write(`${(1767225600).toString(8).padStart(11, "0")}\0`, 136, "ascii");
  header.write("        ", 148, "ascii");
  header.write(type, 156, "ascii");
  header.write("ustar\0", 257, "ascii");
  header.write("00", 263, "ascii");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return header;
}

/** A tar of these files (folders made for their paths): an uncompressed image layer. */
export function tarOf(files: Record<string, Buffer | string>): Buffer {
  const parts: Buffer[] = [];
  const folders = new Set<string>();
  for (const [name, content] of Object.entries(files)) {
    const segments = name.split("/");
    for (let i = 1; i < segments.length; i++) {
      const folder = `${segments.slice(0, i).join("/")}/`;
      if (!folders.has(folder)) {
        folders.add(folder);
        parts.push(tarHeader(folder, 0, "5"));
      }
    }
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    parts.push(tarHeader(name, data.length, "0"), data);
    parts.push(Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface ClassicImage {
  repoTag: string;
  /** Uncompressed layer tars (`tarOf`). */
  layers: Buffer[];
  /** One `created_by` per layer: what `docker history` shows. */
  createdBy: string[];
  os?: string;
}

/**
 * A `docker save` tar (the classic layout docker 20.10 writes and reads) of these images: what
 * the tests `docker load` into an engine to have images to save, made without ferry.
 * Returns the tar and each image's ID (its config digest).
 */
export function dockerSaveTar(images: ClassicImage[]): { tar: Buffer; ids: string[] } {
  const files: Record<string, Buffer> = {};
  const manifest = [];
  const ids: string[] = [];
  for (const image of images) {
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: image.os ?? "linux",
        created: "2026-01-01T00:00:00Z",
        config: { Cmd: ["/app"], Env: ["PATH=/usr/bin"] },
        rootfs: { type: "layers", diff_ids: image.layers.map((l) => `sha256:${sha256Hex(l)}`) },
        history: image.createdBy.map((created_by, i) => ({
          created: `2026-01-0${i + 1}T00:00:00Z`,
          created_by,
        })),
      }),
    );
    const configHex = sha256Hex(config);
    files[`${configHex}.json`] = config;
    const layerPaths = image.layers.map((layer) => {
      const name = `${sha256Hex(layer)}/layer.tar`;
      files[name] = layer;
      return name;
    });
    manifest.push({ Config: `${configHex}.json`, RepoTags: [image.repoTag], Layers: layerPaths });
    ids.push(`sha256:${configHex}`);
  }
  files["manifest.json"] = Buffer.from(JSON.stringify(manifest));
  return { tar: tarOf(files), ids };
}
