/**
 * The one answer to "is the process that left this file still running?", for every lock and
 * temp file ferry names after a process (the store lock, the download cache's partial locks
 * and journal, staging folders).
 *
 * A pid alone is not enough: pids are reused, so a lock left by a killed process can name a
 * pid that now belongs to something else and look alive forever. So a process records, with
 * its pid and host name, when it started: on Linux field 22 of /proc/PID/stat (clock ticks
 * since boot) and the kernel's boot id. A recorded start time that differs from the running
 * pid's, or a boot id that differs from this boot's, means the recorder is gone. Where /proc
 * is not there (macOS, Windows), only pid and host are recorded and compared: a reused pid
 * then looks alive, and whoever waits on it ends with ELOCKED naming the holder.
 * A process of another host (same store on a share) cannot be checked: it counts as running.
 */

import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/** Who a process is, as recorded in the files it leaves. */
export interface ProcessIdentity {
  pid: number;
  host: string;
  /** Start time of the process (Linux: /proc/PID/stat field 22), when known. */
  started?: string;
  /** The kernel's boot id (Linux), when known. */
  boot?: string;
}

export type Liveness =
  /** The process runs (or may: a pid with no start time to compare). */
  | "running"
  /** Provably gone: no such pid, another start time, or the machine rebooted. */
  | "gone"
  /** A process of another host: it cannot be checked from here. */
  | "elsewhere";

/** Field 22 (starttime) of /proc/PID/stat, or undefined where there is no such file. */
export function processStartTime(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const started = fields[19];
  return started && /^\d+$/.test(started) ? started : undefined;
}

let bootId: string | undefined | null = null;

function thisBoot(): string | undefined {
  if (bootId === null) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
    } catch {
      bootId = undefined;
    }
  }
  return bootId;
}

let self: ProcessIdentity | undefined;

/** This process, as it records itself. */
export function thisProcess(): ProcessIdentity {
  if (!self) {
    const identity: ProcessIdentity = { pid: process.pid, host: hostname() };
    const started = processStartTime(process.pid);
    if (started !== undefined) identity.started = started;
    const boot = thisBoot();
    if (boot !== undefined) identity.boot = boot;
    self = identity;
  }
  return self;
}

/** Whether a process with this pid exists on this host (EPERM: it does, another user's). */
function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the process that recorded `owner` still runs. `host` undefined means this host
 * (temp names carry only a pid: util/temp-name.ts).
 */
export function processLiveness(owner: Partial<ProcessIdentity> & { pid: number }): Liveness {
  if (owner.host !== undefined && owner.host !== hostname()) return "elsewhere";
  const boot = thisBoot();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return "gone";
  if (!pidExists(owner.pid)) return "gone";
  if (owner.started !== undefined) {
    const started = processStartTime(owner.pid);
    if (started !== undefined && started !== owner.started) return "gone";
  }
  return "running";
}
