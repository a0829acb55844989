import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { FerryError, fromSystemError } from "../errors.js";
import { uniqueTempName } from "./atomic-file.js";

interface LockOwner {
  pid: number;
  host: string;
  since: string;
  purpose: string;
}

export interface LockOptions {
  /** What the holder is doing, shown to whoever waits. */
  purpose: string;
  /** How long to wait for another process to finish, in ms. */
  timeoutMs?: number;
  pollMs?: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, "utf8")) as LockOwner;
    return typeof owner.pid === "number" ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** A lock held by a process of this host that no longer runs can be broken. */
function isStale(owner: LockOwner | undefined): boolean {
  if (!owner) return false;
  return owner.host === hostname() && !isAlive(owner.pid);
}

/**
 * Break a stale lock without racing another breaker: move it aside under a unique name, and
 * only delete it if what was moved is still the stale owner's; otherwise put it back.
 */
async function breakStaleLock(file: string, stale: LockOwner): Promise<void> {
  const aside = uniqueTempName(file);
  try {
    await rename(file, aside);
  } catch {
    return;
  }
  const moved = await readOwner(aside);
  if (moved && moved.pid === stale.pid && moved.since === stale.since) {
    await rm(aside, { force: true });
  } else {
    await rename(aside, file).catch(() => rm(aside, { force: true }));
  }
}

/** A holder killed between creating the file and writing its owner leaves it unreadable. */
async function isAbandonedEmptyLock(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    return Date.now() - info.mtimeMs > 10_000;
  } catch {
    return false;
  }
}

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * An exclusive, cross-process lock file (`O_EXCL` create). A lock left by a killed process
 * of this host is detected by its pid and broken; a live holder is waited for, then ELOCKED.
 */
export async function acquireLock(file: string, options: LockOptions): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pollMs = options.pollMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    purpose: options.purpose,
  };
  for (;;) {
    try {
      const handle = await open(file, "wx", 0o644);
      try {
        await handle.writeFile(JSON.stringify(owner));
      } finally {
        await handle.close();
      }
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw fromSystemError(error, file, "locking");
      }
    }
    const holder = await readOwner(file);
    if (holder && isStale(holder)) {
      await breakStaleLock(file, holder);
      continue;
    }
    if (!holder && (await isAbandonedEmptyLock(file))) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      const who = holder
        ? `process ${holder.pid} on ${holder.host} (${holder.purpose}, since ${holder.since})`
        : "another process";
      throw new FerryError("ELOCKED", `${file} is locked by ${who}`, {
        hint: "wait for it to finish; if no ferry process runs any more, delete the lock file",
      });
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
