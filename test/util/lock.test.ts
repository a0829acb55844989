import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { acquireLock } from "../../src/util/lock.js";
import { tempDir } from "../helpers/cli.js";

describe("acquireLock", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("is exclusive: a second holder waits, then gets ELOCKED naming the first", async () => {
    const file = path.join(tmp.dir, "a.lock");
    const held = await acquireLock(file, { purpose: "first" });
    await expect(acquireLock(file, { purpose: "second", timeoutMs: 150 })).rejects.toMatchObject({
      code: "ELOCKED",
      message: expect.stringMatching(new RegExp(`process ${process.pid} .*\\(first`)),
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
