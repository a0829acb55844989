/**
 * A long wait for a lock is never silent: the waiter is told who holds it when the wait starts
 * and again every `remindEveryMs` (how long so far), and an interruption ends the wait at once.
 * Counts, not durations: the holder lets go once two reminders have come.
 */
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { describeWaited, printLockWait } from "../../src/cli/lock-wait.js";
import { InterruptedError } from "../../src/errors.js";
import { acquireLock, type LockWait } from "../../src/util/lock.js";
import { tempDir } from "../helpers/cli.js";

describe("waiting for a lock", () => {
  const tmp = tempDir("ferry-lock-wait-");
  afterAll(() => tmp.cleanup());

  it("is reported when it starts and again while it goes on, with the time waited", async () => {
    const file = path.join(tmp.dir, "remind.lock");
    const held = await acquireLock(file, { purpose: "holding on" });
    const waits: LockWait[] = [];
    let released = false;
    const waiter = acquireLock(file, {
      purpose: "waiting",
      pollMs: 2,
      remindEveryMs: 1,
      timeoutMs: 600_000,
      onWait: (wait) => {
        waits.push(wait);
        if (waits.length === 3 && !released) {
          released = true;
          void held.release();
        }
      },
    });
    const lock = await waiter;
    await lock.release();
    expect(waits.length).toBeGreaterThanOrEqual(3);
    expect(waits[0]).toMatchObject({ file, reminder: false, waitedMs: expect.any(Number) });
    expect(waits[0]?.holder?.purpose).toBe("holding on");
    for (const later of waits.slice(1)) expect(later.reminder).toBe(true);
    const times = waits.map((w) => w.waitedMs);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it("ends at once when the command is interrupted, with the interruption", async () => {
    const file = path.join(tmp.dir, "interrupt.lock");
    const held = await acquireLock(file, { purpose: "holding on" });
    const controller = new AbortController();
    try {
      const waiting = acquireLock(file, {
        purpose: "waiting",
        timeoutMs: 600_000,
        pollMs: 60_000,
        signal: controller.signal,
        onWait: () => controller.abort(new InterruptedError("SIGINT")),
      });
      await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
    } finally {
      await held.release();
    }
  });
});

describe("the CLI's lock-wait lines", () => {
  it("say who holds it, then how long the wait has lasted", () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const before = process.env.FERRY_PROGRESS;
    delete process.env.FERRY_PROGRESS;
    try {
      const holder = {
        pid: 4242,
        host: "build1",
        command: "ferry load",
        purpose: "loading images",
        since: "2026-01-01T00:00:00.000Z",
      };
      printLockWait({ file: "/s/.ferry/lock", holder, waitedMs: 0, reminder: false });
      printLockWait({ file: "/s/.ferry/lock", holder, waitedMs: 200_000, reminder: true });
      expect(write.mock.calls.map((call) => call[0])).toEqual([
        "ferry: waiting for /s/.ferry/lock, held by process 4242 (ferry load: loading images) on build1, since 2026-01-01T00:00:00.000Z\n",
        "ferry: still waiting for /s/.ferry/lock (3 min 20 s so far), held by process 4242 (ferry load: loading images) on build1, since 2026-01-01T00:00:00.000Z\n",
      ]);
    } finally {
      write.mockRestore();
      if (before !== undefined) process.env.FERRY_PROGRESS = before;
    }
    expect(describeWaited(45_000)).toBe("45 s");
    expect(describeWaited(3_725_000)).toBe("1 h 2 min");
  });
});
