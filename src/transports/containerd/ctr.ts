/**
 * containerd's own client, `ctr`, run as a child process against one containerd (`-a ADDRESS`)
 * and namespace (`-n NS`): listing images and importing a tar from stdin. Why `ctr` and not
 * containerd's gRPC API: it ships with containerd wherever containerd is installed (Kubernetes
 * nodes, Windows container hosts), its import is the one containerd documents and keeps
 * working across versions, and it needs no protobuf/gRPC stack in ferry (docs/engines.md).
 */

import { type ChildProcessByStdio, spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { FerryError } from "../../errors.js";
import { escapeControls } from "../../types/terminal-text.js";

/** Which containerd, and which namespace in it. */
export interface CtrTarget {
  /** The socket (or Windows named pipe) containerd listens on. */
  address: string;
  namespace: string;
}

/** The client's name on PATH (`ctr.exe` on Windows: found by the same name). */
export const CTR = "ctr";

/** What ctr printed is kept up to this many characters (its last ones), for messages. */
const OUTPUT_LIMIT = 64 * 1024;
/** A listing is read whole up to this many characters (a node holds hundreds of images). */
const LISTING_LIMIT = 16 * 1024 * 1024;

export interface CtrRun {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** Settles when ctr exits (listeners attached at spawn): its exit code and output. */
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function describe(target: CtrTarget): string {
  return `containerd at ${target.address} (namespace ${target.namespace})`;
}

/** ctr could not be started: not installed, or not on PATH. */
function notInstalled(error: unknown): FerryError {
  const code = (error as NodeJS.ErrnoException).code;
  return new FerryError(
    code === "ENOENT" ? "ENOTFOUND" : "EIO",
    code === "ENOENT"
      ? "ctr, containerd's client, is not installed or not on PATH"
      : `ctr, containerd's client, cannot be started: ${(error as Error).message}`,
    {
      hint: "install containerd's ctr (it ships with containerd; Debian: the containerd package) and put it on PATH",
      cause: error,
    },
  );
}

/** Start `ctr -a ADDRESS -n NS ARGS...`; stdin is a pipe for the caller to write or end. */
export function startCtr(target: CtrTarget, args: string[], stdoutLimit = OUTPUT_LIMIT): CtrRun {
  const child = spawn(CTR, ["-a", target.address, "-n", target.namespace, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    windowsHide: true,
  });
  let stdout = "";
  let stderr = "";
  const keep = (text: string, data: Buffer, limit: number) =>
    (text + data.toString("utf8")).slice(-limit);
  child.stdout.on("data", (data: Buffer) => {
    stdout = keep(stdout, data, stdoutLimit);
  });
  child.stderr.on("data", (data: Buffer) => {
    stderr = keep(stderr, data, OUTPUT_LIMIT);
  });
  // A write into a ctr that already exited fails with EPIPE: the exit says why.
  child.stdin.on("error", () => {});
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      child.once("error", (error) => reject(notInstalled(error)));
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    },
  );
  exited.catch(() => {});
  return { child, exited };
}

/** ctr's failure as a typed error: containerd unreachable (ENETWORK), or its refusal (EENGINE). */
export function ctrFailure(target: CtrTarget, doing: string, stderr: string): FerryError {
  const text = escapeControls(stderr.trim().split("\n").slice(-5).join("\n"));
  if (
    /failed to dial|connection refused|no such file or directory|connection error/i.test(stderr)
  ) {
    return new FerryError("ENETWORK", `cannot reach ${describe(target)}: ${text}`, {
      hint: "start containerd (`systemctl start containerd`), or name its socket: --to containerd:SOCKET",
      details: { address: target.address },
    });
  }
  return new FerryError("EENGINE", `${describe(target)}, ${doing}: ${text || "ctr failed"}`, {
    hint: "the message is ctr's; check containerd's log",
    details: { address: target.address, namespace: target.namespace },
  });
}

/**
 * Fail at once when the socket is not there (ctr would wait 10 s for it): unix sockets only
 * (a Windows pipe is not a file to look at).
 */
export async function checkSocket(target: CtrTarget): Promise<void> {
  if (/^(\\\\|npipe:)/i.test(target.address)) return;
  const path = target.address.replace(/^unix:\/\//, "");
  const info = await stat(path).catch(() => undefined);
  if (!info?.isSocket()) {
    throw new FerryError(
      "ENETWORK",
      `cannot reach ${describe(target)}: ${info ? "not a socket" : "no socket there"}`,
      {
        hint: "start containerd (`systemctl start containerd`), or name its socket: --to containerd:SOCKET",
        details: { address: target.address },
      },
    );
  }
}

/** `ctr images ls`: every image of the namespace, by name, with the digest it points at. */
export async function listImages(target: CtrTarget): Promise<Map<string, string>> {
  const run = startCtr(target, ["images", "ls"], LISTING_LIMIT);
  run.child.stdin.end();
  const { code, stdout, stderr } = await run.exited;
  if (code !== 0) throw ctrFailure(target, "listing images", stderr);
  const images = new Map<string, string>();
  // REF TYPE DIGEST SIZE PLATFORMS LABELS; names and digests hold no spaces.
  for (const line of stdout.split("\n").slice(1)) {
    const [name, , digest] = line.trim().split(/\s+/);
    if (name && digest?.startsWith("sha256:")) images.set(name, digest);
  }
  return images;
}
