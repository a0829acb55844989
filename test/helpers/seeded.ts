import { createHash } from "node:crypto";
import { beforeEach, onTestFailed } from "vitest";

/**
 * Deterministic randomness for the reliability suite: every "random" choice (which byte to
 * flip, where to cut, when to kill) comes from one seed, so a failure reproduces exactly.
 * The seed is FERRY_STRESS_SEED when set, else a fixed default; tests print it.
 */
export const DEFAULT_SEED = 0x5eed_f3e7;

export function stressSeed(): number {
  const text = process.env.FERRY_STRESS_SEED;
  if (text === undefined || text === "") return DEFAULT_SEED;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`FERRY_STRESS_SEED=${text} is not an integer`);
  return value >>> 0;
}

/**
 * For a describe block (or a file) whose tests draw from `seed`: every failing test prints the
 * seed and how to run it again with the same draws.
 */
export function showSeedOnFailure(seed: number): void {
  beforeEach(() => {
    onTestFailed(() => {
      console.error(
        `seeded test failed: seed ${seed} (run again with FERRY_STRESS_SEED=${seed} for the same draws)`,
      );
    });
  });
}

/** FERRY_STRESS=full: the long run (more trials and rounds). */
export const STRESS_FULL = process.env.FERRY_STRESS === "full";

/**
 * A seeded stress file's settings: the seed (reported by every failing test of the file) and a
 * per-test timeout (the full run takes many times longer).
 */
export function stressFile(): { seed: number; timeout: number } {
  const seed = stressSeed();
  showSeedOnFailure(seed);
  return { seed, timeout: STRESS_FULL ? 1_800_000 : 600_000 };
}

/** A small, fast, seeded PRNG (mulberry32). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A child generator for one purpose, so adding draws elsewhere does not shift this one. */
  fork(label: string): Rng {
    const hash = createHash("sha256").update(`${this.state}:${label}`).digest();
    return new Rng(hash.readUInt32LE(0));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max). */
  int(min: number, max: number): number {
    if (max <= min) return min;
    return min + Math.floor(this.next() * (max - min));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(0, items.length)] as T;
  }

  /** `count` distinct items (all of them when there are fewer), in a seeded order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, Math.min(count, copy.length));
  }

  /** Deterministic bytes (sha256 in counter mode): seeded stand-ins for compressed layers. */
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const key = this.int(0, 2 ** 31).toString(16);
    for (let at = 0, block = 0; at < length; at += 32, block++) {
      createHash("sha256").update(`${key}:${block}`).digest().copy(out, at);
    }
    return out;
  }
}
