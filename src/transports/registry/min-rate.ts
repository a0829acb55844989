/**
 * A floor under a download's speed. The stall timeout fails a connection that sends nothing
 * for a while; a server that drips one byte a second never trips it and would hold a save for
 * ever. This rule fails a body that brings fewer than `bytesPerSecond` on average over a
 * window of `windowMs`.
 *
 * Only time spent waiting for the network counts: while ferry itself is busy (writing a batch
 * to a slow disk, or a direct download waiting for the copy engine to take its bytes), the
 * server is not being slow, so the clock stops.
 */

export interface MinRate {
  /** The average a body must keep up over each window; 0 turns the rule off. */
  bytesPerSecond: number;
  /** The window, in ms of waiting for the network. */
  windowMs: number;
}

/** Default floor: 1 KiB/s, measured over the stall timeout's window. */
export const DEFAULT_MIN_RATE_BYTES_PER_SECOND = 1024;

/** What a too-slow window saw, for the caller's error. */
export interface SlowWindow {
  bytes: number;
  waitedMs: number;
  rule: MinRate;
}

/** Text for messages: `12 bytes in 60 s (at least 1024 bytes/s wanted)`. */
export function describeSlowWindow(window: SlowWindow): string {
  const seconds = window.waitedMs / 1000;
  const shown = seconds >= 10 ? Math.round(seconds) : Number(seconds.toFixed(1));
  return `too slow: ${window.bytes} bytes in ${shown} s (at least ${window.rule.bytesPerSecond} bytes/s wanted)`;
}

/** Counts a body's bytes and waiting time, window by window. */
export class RateFloor {
  private bytes = 0;
  private waitedMs = 0;

  /**
   * @param rule undefined or a zero rate: no floor.
   * @param tooSlow the error to fail with when a window closes below the floor.
   */
  constructor(
    private readonly rule: MinRate | undefined,
    private readonly tooSlow: (window: SlowWindow) => Error,
  ) {}

  private get active(): boolean {
    return this.rule !== undefined && this.rule.bytesPerSecond > 0 && this.rule.windowMs > 0;
  }

  /**
   * Wait for one read from the network (`pending`), counting the time and the bytes it brings
   * (`bytesOf`). Rejects with the `tooSlow` error, without waiting for the read any longer, when
   * a window closes below the floor; the caller then destroys the body.
   */
  async wait<T>(pending: Promise<T>, bytesOf: (value: T) => number): Promise<T> {
    if (!this.active) return pending;
    const rule = this.rule as MinRate;
    let since = performance.now();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const lapse = (): void => {
      const now = performance.now();
      this.waitedMs += now - since;
      since = now;
    };
    const slow = new Promise<never>((_, reject) => {
      const arm = (): void => {
        timer = setTimeout(
          () => {
            if (settled) return;
            lapse();
            const error = this.closeWindow(rule);
            if (error) {
              settled = true;
              reject(error);
            } else arm();
          },
          Math.max(1, rule.windowMs - this.waitedMs),
        );
      };
      arm();
    });
    slow.catch(() => {});
    pending.catch(() => {});
    try {
      const value = await Promise.race([pending, slow]);
      if (!settled) {
        settled = true;
        lapse();
        this.bytes += bytesOf(value);
        if (this.waitedMs >= rule.windowMs) {
          const error = this.closeWindow(rule);
          if (error) throw error;
        }
      }
      return value;
    } finally {
      settled = true;
      clearTimeout(timer);
    }
  }

  /** A window is complete: the error when it fell short, else a fresh window. */
  private closeWindow(rule: MinRate): Error | undefined {
    const floor = (rule.bytesPerSecond * this.waitedMs) / 1000;
    if (this.bytes < floor) {
      return this.tooSlow({ bytes: this.bytes, waitedMs: this.waitedMs, rule });
    }
    this.bytes = 0;
    this.waitedMs = 0;
    return undefined;
  }
}
