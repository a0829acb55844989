/**
 * The real clients that pull from `ferry serve` in its tests: the dockerd and containerd of
 * test/helpers/engines.ts (Debian's docker.io 20.10 and containerd 1.6, each started as root in
 * a temp folder of its own, no networking, the vfs storage driver), since containers cannot run
 * in the sandbox but images pull and unpack. dockerd treats 127.0.0.0/8 registries as insecure
 * (plain HTTP) by default, which is how `docker pull 127.0.0.1:PORT/...` reaches ferry serve
 * without TLS.
 *
 * `daemonSkipReason` says why a daemon cannot start here (not root, not installed); the tests
 * print it loudly and skip. With CI=true it is always undefined: a missing engine fails in CI.
 */

import type { RunningContainerd } from "./engines.js";
import { commandRuns } from "./installed.js";

export {
  type RunningContainerd as Containerd,
  type RunningDocker as Dockerd,
  startContainerd,
  startDockerd,
} from "./engines.js";

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
    if (!commandRuns(binary, args))
      return `${binary} is not installed (apt-get install docker.io containerd)`;
  }
  return undefined;
}

/** Print a skip reason where nobody misses it. */
export function warnSkipped(what: string, reason: string | undefined): void {
  if (reason !== undefined) console.warn(`\n*** SKIPPED: ${what}: ${reason} ***\n`);
}

/** `ctr images ls` of a namespace: reference -> target digest. */
export async function ctrImageDigests(
  containerd: RunningContainerd,
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
