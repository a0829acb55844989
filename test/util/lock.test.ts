import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { acquireLock, describeHolder, type LockWait } from "../../src/util/lock.js";
import { thisProcess } from "../../src/util/process-liveness.js";
import { tempDir } from "../helpers/cli.js";
import { errorOf } from "../helpers/errors.js";

describe("acquireLock", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("is exclusive: a second holder waits, then gets ELOCKED naming the first", async () => {
    const file = path.join(tmp.dir, "a.lock");
    const held = await acquireLock(file, { purpose: "first" });
    await expect(acquireLock(file, { purpose: "second", timeoutMs: 150 })).rejects.toMatchObject({
      code: "ELOCKED",
      message: expect.stringMatching(new RegExp(`process ${process.pid} \\(.*: first\\)`)),
    });
    await held.release();
    const again = await acquireLock(file, { purpose: "third", timeoutMs: 150 });
    await again.release();
  });

  it("breaks a lock left by a process that no longer runs", async () => {
    const file = path.join(tmp.dir, "b.lock");
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid as number;
    writeFileSync(
      file,
      JSON.stringify({
        pid: dead,
        host: hostname(),
        since: "2026-01-01T00:00:00Z",
        purpose: "crashed load",
      }),
    );
    const held = await acquireLock(file, { purpose: "after crash", timeoutMs: 500 });
    await held.release();
  });

  it("waits for a live holder to release", async () => {
    const file = path.join(tmp.dir, "c.lock");
    const first = await acquireLock(file, { purpose: "first" });
    // No timer decides anything: the release is ours, and the waiter's timeout is far beyond
    // what a busy machine needs. (That a live lock is never taken is the first test's ELOCKED.)
    const second = acquireLock(file, { purpose: "second", pollMs: 5, timeoutMs: 60_000 });
    await first.release();
    const held = await second;
    expect(JSON.parse(readFileSync(file, "utf8")).purpose).toBe("second");
    await held.release();
  });
});

describe("acquireLock: who holds it", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  /** A lock record naming this very process (which runs), with another start time or boot. */
  function recordOfThisPid(overrides: Record<string, unknown>): string {
    const me = thisProcess();
    return JSON.stringify({
      ...me,
      command: "ferry load",
      purpose: "loading images",
      since: "2026-01-01T00:00:00.000Z",
      ...overrides,
    });
  }

  it.runIf(thisProcess().started !== undefined)(
    "takes over a lock whose pid runs but started at another time (a reused pid)",
    async () => {
      const file = path.join(tmp.dir, "reused.lock");
      const started = String(Number(thisProcess().started) + 1);
      writeFileSync(file, recordOfThisPid({ started }));
      const held = await acquireLock(file, { purpose: "after reuse", timeoutMs: 0 });
      expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({
        pid: process.pid,
        started: thisProcess().started,
        purpose: "after reuse",
      });
      await held.release();
      expect(existsSync(file)).toBe(false);
    },
  );

  it.runIf(thisProcess().boot !== undefined)(
    "takes over a lock recorded before the machine rebooted",
    async () => {
      const file = path.join(tmp.dir, "reboot.lock");
      writeFileSync(file, recordOfThisPid({ boot: "00000000-0000-0000-0000-000000000000" }));
      const held = await acquireLock(file, { purpose: "after reboot", timeoutMs: 0 });
      await held.release();
    },
  );

  it("does not take a lock this process holds, and says who holds it", async () => {
    const file = path.join(tmp.dir, "mine.lock");
    const held = await acquireLock(file, { purpose: "first" });
    const waits: LockWait[] = [];
    const error = await errorOf(
      acquireLock(file, { purpose: "second", timeoutMs: 0, onWait: (w) => waits.push(w) }),
    );
    expect(error.code).toBe("ELOCKED");
    expect(waits).toHaveLength(1);
    expect(waits[0]?.holder).toMatchObject({ pid: process.pid, purpose: "first" });
    expect(describeHolder(waits[0]?.holder)).toMatch(
      new RegExp(`^process ${process.pid} \\(.+: first\\) on .+, since \\d{4}-`),
    );
    await held.release();
  });

  it("a release leaves alone a lock that is no longer its own", async () => {
    const file = path.join(tmp.dir, "replaced.lock");
    const held = await acquireLock(file, { purpose: "first" });
    const other = recordOfThisPid({ pid: 1, purpose: "someone else's" });
    writeFileSync(file, other);
    await held.release();
    expect(readFileSync(file, "utf8")).toBe(other);
  });

  it("shows control characters of a planted record escaped", () => {
    const text = describeHolder({
      pid: 7,
      host: "h",
      command: "ferry\u001b[2J",
      purpose: "x\ny",
      since: "now",
    });
    expect(text).toBe("process 7 (ferry\\x1b[2J: x\\x0ay) on h, since now");
  });
});
