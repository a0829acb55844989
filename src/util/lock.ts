/**
 * ferry's one cross-process lock: the store's `.ferry/lock` and the download cache's
 * `partial/<hex>.lock` are both taken here.
 *
 * A lock is a file whose content names its holder (pid, host, start time and boot id from
 * `thisProcess`, command, purpose, since when). It is created whole or not at all: the record
 * is written to a temp file, which is then hard-linked to the lock's name (`link` fails when
 * the name exists, so exactly one creator wins; where the file system has no hard links, an
 * `O_EXCL` create and a write).
 *
 * A lock whose holder is provably gone (`processLiveness`: no such pid, another start time, a
 * reboot) is broken without a race: only the process that creates the breaker marker
 * `<lock>.break-<identity>.<n>` for that very lock file (same inode, change time and content)
 * may remove it, after checking that the lock is still that file; then every contender tries
 * the create again and exactly one wins. A breaker that dies while holding its marker is
 * replaced by the next marker number (`<n+1>`). A lock never overwrites another: a process
 * releases its lock only if the file is still its own record.
 */

import { createHash, randomBytes } from "node:crypto";
import { lstat, unlink } from "node:fs/promises";
import path from "node:path";
import { FerryError, fromSystemError } from "../errors.js";
import { fileOps, meansNoHardLinks } from "./fs-retry.js";
import { type ProcessIdentity, processLiveness, thisProcess } from "./process-liveness.js";
import { createOwnFile, type FileRules, openRegularFile } from "./safe-open.js";
import { uniqueTempName } from "./temp-name.js";

/** Lock files are readable by everyone (so a waiting ferry of another user can name the holder). */
const LOCK_FILE_MODE = 0o644;
/** A lock file with no readable record this old was left by a killed process (or planted). */
const ABANDONED_AFTER_MS = 10_000;
/** Breakers that died while breaking one lock, at most, before giving up (then: busy). */
const MAX_BREAKERS = 16;

const LOCK_RULES: FileRules = {
  code: "EIO",
  hint: "remove it: ferry creates its lock files itself",
};

/** Who holds a lock, as recorded in the lock file. */
export interface LockHolder extends ProcessIdentity {
  /** `ferry load` (never the command's arguments: they may hold secrets), or a script name. */
  command: string;
  purpose: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

export interface HeldLock {
  /** Remove the lock, if it is still this process's (once; later calls do nothing). */
  release(): Promise<void>;
}

/** The lock is another's: `holder` is its record (undefined: being written, or unreadable). */
export interface BusyLock {
  busy: true;
  holder: LockHolder | undefined;
}

/**
 * What a waiting process is told when it starts to wait, when the holder changes, and every
 * `remindEveryMs` while the wait goes on.
 */
export interface LockWait {
  file: string;
  holder: LockHolder | undefined;
  /** How long this process has waited so far, in ms (0 when it starts to wait). */
  waitedMs: number;
  /** The same holder as last told: the wait goes on. */
  reminder: boolean;
}

/** How often a long wait is reported again, by default. */
export const LOCK_REMINDER_MS = 30_000;

export interface LockOptions {
  /** What the holder is doing, shown to whoever waits. */
  purpose: string;
  /** How long to wait for another process to finish, in ms. */
  timeoutMs?: number;
  pollMs?: number;
  /** Told who holds the lock when this process starts to wait (default: the process-wide one). */
  onWait?: (wait: LockWait) => void;
  /** Tell `onWait` again every this many ms while the wait goes on (default LOCK_REMINDER_MS). */
  remindEveryMs?: number;
  /** Stop waiting when this aborts (an interrupted command): its reason is thrown. */
  signal?: AbortSignal;
}

let waitListener: ((wait: LockWait) => void) | undefined;

/** Where every wait for a lock is reported unless its caller says otherwise (the CLI prints it). */
export function setLockWaitListener(listener: ((wait: LockWait) => void) | undefined): void {
  waitListener = listener;
}

/** `ferry load` for the CLI, else the script's name; never arguments (they may hold secrets). */
function thisCommand(): string {
  const script = path.basename(process.argv[1] ?? "node");
  const sub = process.argv[2];
  if (script === "ferry" || script === "main.js") {
    return sub && /^[a-z][a-z-]{0,31}$/.test(sub) ? `ferry ${sub}` : "ferry";
  }
  return script.replace(/[^\w.-]/g, "_").slice(0, 64);
}

function recordFor(purpose: string): string {
  const holder: LockHolder & { token: string } = {
    ...thisProcess(),
    command: thisCommand(),
    purpose,
    since: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  return JSON.stringify(holder);
}

function parseHolder(text: string): LockHolder | undefined {
  let value: Partial<Record<keyof LockHolder, unknown>>;
  try {
    value = JSON.parse(text) as typeof value;
  } catch {
    return undefined;
  }
  if (typeof value?.pid !== "number" || typeof value.host !== "string") return undefined;
  const text_ = (v: unknown, fallback: string) => (typeof v === "string" ? v : fallback);
  const holder: LockHolder = {
    pid: value.pid,
    host: value.host,
    command: text_(value.command, "ferry"),
    purpose: text_(value.purpose, "unknown"),
    since: text_(value.since, "an unknown time"),
  };
  if (typeof value.started === "string") holder.started = value.started;
  if (typeof value.boot === "string") holder.boot = value.boot;
  return holder;
}

/** A lock file as seen once: its record and what identifies that very file. */
interface SeenLock {
  holder: LockHolder | undefined;
  /** Inode, change time and content: a new lock file at the same name differs in one of them. */
  identity: string;
  content: string;
  modifiedMs: number;
}

/** The lock file at `file` (undefined when there is none). Never follows a link. */
async function seeLock(file: string): Promise<SeenLock | undefined> {
  let content = "";
  let ino: bigint;
  let ctime: bigint;
  let modifiedMs: number;
  try {
    const { handle } = await openRegularFile(file, LOCK_RULES);
    try {
      const info = await handle.stat({ bigint: true });
      content = (await handle.readFile()).toString("utf8");
      ino = info.ino;
      ctime = info.ctimeNs;
      modifiedMs = Number(info.mtimeMs);
    } finally {
      await handle.close().catch(() => {});
    }
  } catch (error) {
    if ((error as FerryError).code === "ENOTFOUND") return undefined;
    // Something planted in its place (a link, a FIFO): no record; judged by its age.
    const info = await lstat(file, { bigint: true }).catch(() => undefined);
    if (!info) return undefined;
    ino = info.ino;
    ctime = info.ctimeNs;
    modifiedMs = Number(info.mtimeMs);
  }
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 16);
  return {
    holder: parseHolder(content),
    identity: `${ino}-${ctime}-${hash}`,
    content,
    modifiedMs,
  };
}

/** The holder of the lock at `file`, if there is one and its record can be read. */
export async function readLockHolder(file: string): Promise<LockHolder | undefined> {
  return (await seeLock(file))?.holder;
}

/** Whether a seen lock's holder is provably gone (or its file was abandoned empty). */
function isStale(seen: SeenLock): boolean {
  if (seen.holder) return processLiveness(seen.holder) === "gone";
  return Date.now() - seen.modifiedMs > ABANDONED_AFTER_MS;
}

/** True unless the lock at `file` is provably abandoned (missing counts as not held). */
export async function isLockHeld(file: string): Promise<boolean> {
  const seen = await seeLock(file);
  return seen !== undefined && !isStale(seen);
}

/** Create `file` holding `content`, whole, unless it exists: true when this call created it. */
async function createWhole(file: string, content: string): Promise<boolean> {
  const temp = uniqueTempName(file);
  const handle = await createOwnFile(temp, LOCK_FILE_MODE, {
    existing: "fail",
    rules: LOCK_RULES,
  });
  try {
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    // Retried on Windows while a scanner holds the new record (see fs-retry.ts).
    await fileOps.link(temp, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (meansNoHardLinks(error)) return createInPlace(file, content);
    throw fromSystemError(error, file, "locking");
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/** Without hard links: O_EXCL create, then write (a reader may see it empty for a moment). */
async function createInPlace(file: string, content: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof createOwnFile>>;
  try {
    handle = await createOwnFile(file, LOCK_FILE_MODE, {
      existing: "fail",
      rules: LOCK_RULES,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw fromSystemError(error, file, "locking");
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Remove the stale lock `seen`, unless another process is already doing so. Only the creator of
 * a breaker marker for this very lock file removes it, and only if it is still that file.
 */
async function breakStaleLock(file: string, seen: SeenLock): Promise<void> {
  const base = `${file}.break-${seen.identity}`;
  for (let generation = 1; generation <= MAX_BREAKERS; generation++) {
    const marker = `${base}.${generation}`;
    if (await createWhole(marker, recordFor(`breaking the stale lock ${file}`))) {
      try {
        const now = await seeLock(file);
        if (now?.identity === seen.identity) await unlink(file).catch(() => {});
      } finally {
        for (let n = generation; n >= 1; n--) await unlink(`${base}.${n}`).catch(() => {});
      }
      return;
    }
    const breaker = await seeLock(marker);
    // Gone already (its breaker finished), or a breaker at work: the caller looks again.
    if (!breaker || !isStale(breaker)) return;
  }
}

function heldLock(file: string, content: string): HeldLock {
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      const now = await seeLock(file);
      // Retried on Windows: a lock left behind would hold the next command until it is broken.
      if (now?.content === content) await fileOps.unlink(file).catch(() => {});
    },
  };
}

/**
 * One attempt at the lock, without waiting: taken (a provably stale lock is broken first), or
 * busy with who holds it.
 */
export async function tryLock(file: string, purpose: string): Promise<HeldLock | BusyLock> {
  const content = recordFor(purpose);
  for (let attempt = 0; attempt < 4; attempt++) {
    if (await createWhole(file, content)) return heldLock(file, content);
    const seen = await seeLock(file);
    if (!seen) continue;
    if (!isStale(seen)) return { busy: true, holder: seen.holder };
    await breakStaleLock(file, seen);
  }
  return { busy: true, holder: await readLockHolder(file) };
}

/** A lock file's text is anyone's who can write there: control characters are shown escaped. */
function printable(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    out += control ? `\\x${code.toString(16).padStart(2, "0")}` : char;
  }
  return out;
}

/** "process 4242 (ferry load: loading images) on host, since 2026-...Z" */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return "another process";
  return printable(
    `process ${holder.pid} (${holder.command}: ${holder.purpose}) on ${holder.host}, since ${holder.since}`,
  );
}

function isBusy(result: HeldLock | BusyLock): result is BusyLock {
  return (result as BusyLock).busy === true;
}

/**
 * An exclusive, cross-process lock. A lock left by a process that is provably gone is broken;
 * a live holder is waited for (the wait is reported with who holds it), then ELOCKED.
 */
export async function acquireLock(file: string, options: LockOptions): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pollMs = options.pollMs ?? 50;
  const remindEveryMs = options.remindEveryMs ?? LOCK_REMINDER_MS;
  const { signal } = options;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let announced: string | undefined;
  let toldAt = 0;
  for (;;) {
    signal?.throwIfAborted();
    const result = await tryLock(file, options.purpose);
    if (!isBusy(result)) {
      if (signal?.aborted) {
        await result.release();
        signal.throwIfAborted();
      }
      return result;
    }
    const { holder } = result;
    const key = holder ? `${holder.pid}@${holder.host}@${holder.since}` : "";
    const now = Date.now();
    const remind = key === announced && now - toldAt >= remindEveryMs;
    if (key !== announced || remind) {
      announced = key;
      toldAt = now;
      (options.onWait ?? waitListener)?.({
        file,
        holder,
        waitedMs: now - started,
        reminder: remind,
      });
    }
    if (Date.now() >= deadline) {
      throw new FerryError("ELOCKED", `${file} is locked by ${describeHolder(holder)}`, {
        hint: `wait for it to finish; if that process no longer runs, remove ${file}`,
        details: holder ? { holder } : {},
      });
    }
    await pause(pollMs, signal);
  }
}

/** Wait `ms`, or less when `signal` aborts meanwhile. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
