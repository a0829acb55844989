import { describeHolder, type LockWait } from "../util/lock.js";

/**
 * Tell the user who holds a lock this command waits for (stderr): a line, or with
 * `--progress json` a JSON line like the progress events.
 */
export function printLockWait(wait: LockWait): void {
  const who = describeHolder(wait.holder);
  if (process.env.FERRY_PROGRESS === "json") {
    process.stderr.write(
      `${JSON.stringify({ event: "lock-wait", time: new Date().toISOString(), file: wait.file, holder: who })}\n`,
    );
    return;
  }
  process.stderr.write(`ferry: waiting for ${wait.file}, held by ${who}\n`);
}
