import { describeHolder, type LockWait } from "../util/lock.js";

/** "45 s", "3 min 20 s", "1 h 5 min". */
export function describeWaited(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * Tell the user who holds a lock this command waits for (stderr): a line when the wait starts
 * or the holder changes, and again every so often while it goes on (how long so far), so a
 * long wait never looks like a hang; with `--progress json` a JSON line like the progress
 * events.
 */
export function printLockWait(wait: LockWait): void {
  const who = describeHolder(wait.holder);
  if (process.env.FERRY_PROGRESS === "json") {
    process.stderr.write(
      `${JSON.stringify({ event: "lock-wait", time: new Date().toISOString(), file: wait.file, holder: who, waitedMs: wait.waitedMs, reminder: wait.reminder })}\n`,
    );
    return;
  }
  if (wait.reminder) {
    process.stderr.write(
      `ferry: still waiting for ${wait.file} (${describeWaited(wait.waitedMs)} so far), held by ${who}\n`,
    );
    return;
  }
  process.stderr.write(`ferry: waiting for ${wait.file}, held by ${who}\n`);
}
