/**
 * The speed floor under blob bodies (`RateFloor`), on a fake clock: windows count only the time
 * spent waiting for the network, so ferry's own slowness (a slow disk, a direct download waiting
 * for the engine) never makes a server look slow.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RateFloor, type SlowWindow } from "../../../src/transports/registry/min-rate.js";

const RULE = { bytesPerSecond: 1_000, windowMs: 1_000 };

/** A read that brings `bytes` after `ms` of (fake) time. */
function read(bytes: number, ms: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(bytes), ms));
}

describe("RateFloor", () => {
  const slow: SlowWindow[] = [];
  const floor = () =>
    new RateFloor(RULE, (window) => {
      slow.push(window);
      return new Error("too slow");
    });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    slow.length = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fails a read that brings nothing for a whole window, without waiting for it", async () => {
    const rate = floor();
    const never = new Promise<number>(() => {});
    const waiting = rate.wait(never, (n) => n);
    const outcome = waiting.then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(slow).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBe("too slow");
    expect(slow).toEqual([{ bytes: 0, waitedMs: 1_000, rule: RULE }]);
  });

  it("does not count time between reads (ferry busy writing)", async () => {
    const rate = floor();
    const first = rate.wait(read(100, 600), (n) => n);
    await vi.advanceTimersByTimeAsync(600);
    expect(await first).toBe(100);
    // Ten seconds of our own work: not the server's fault.
    await vi.advanceTimersByTimeAsync(10_000);
    const second = rate.wait(read(1_000, 300), (n) => n);
    await vi.advanceTimersByTimeAsync(300);
    // 0.9 s of waiting so far (had the 10 s counted, the window would have closed on 100 bytes).
    expect(await second).toBe(1_000);
    const third = rate.wait(read(10, 200), (n) => n);
    await vi.advanceTimersByTimeAsync(200);
    // The window closed after 1 s of waiting with 1,100 bytes: above the floor.
    expect(await third).toBe(10);
    expect(slow).toEqual([]);
  });

  it("fails when a window of waiting closes below the floor", async () => {
    const rate = floor();
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const pending = rate
        .wait(read(10, 300), (n) => n)
        .then(
          () => "ok",
          (error: Error) => error.message,
        );
      await vi.advanceTimersByTimeAsync(300);
      outcomes.push(await pending);
    }
    // 1 s of waiting, 40 bytes: the window closed (mid-way through the 4th read) below 1,000.
    expect(outcomes).toEqual(["ok", "ok", "ok", "too slow"]);
    expect(slow[0]?.bytes).toBe(30);
  });

  it("a zero rate or no rule is no floor", async () => {
    for (const rule of [undefined, { bytesPerSecond: 0, windowMs: 1_000 }]) {
      const rate = new RateFloor(rule, () => new Error("too slow"));
      const pending = rate.wait(read(1, 60_000), (n) => n);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(await pending).toBe(1);
    }
  });
});
