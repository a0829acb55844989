/**
 * What ferry is known not to catch yet. The reliability tests excuse exactly these (and still
 * check that the store is intact and that what was installed is correct); each has a failing
 * test in a test/stress/KNOWN-*.test.ts file marked `it.fails`. When src/ is fixed, that test
 * starts to fail: flip it to `it(...)` and delete the entry here.
 */
import type { Case, Fixtures, Outcome } from "./corruption-lib.js";

export interface CorruptionGap {
  id: string;
  /** What is missed, for the report. */
  description: string;
  /** The KNOWN test that holds the failing case. */
  test: string;
  /** Which check misses it: the other must still catch it. */
  misses: { verify: boolean; load: boolean };
  matches(c: Case, fixtures: Fixtures): boolean;
}

/**
 * Empty at the moment. The two found first were fixed in src/ during this work and are now
 * asserted as regressions in corruption.test.ts: `ferry load` ignoring a damaged bundle id in
 * B.zip.parts (verify caught it), and a B.zip.parts cut by its trailing newline going unnoticed
 * by both. Add an entry, and a test in a KNOWN-*.test.ts file, when a new one turns up.
 */
export const CORRUPTION_GAPS: CorruptionGap[] = [];

export function gapFor(outcome: Outcome, fixtures: Fixtures): CorruptionGap | undefined {
  return CORRUPTION_GAPS.find((gap) => gap.matches(outcome.case, fixtures));
}

/**
 * Hostile-corpus cases where ferry's answer is known to be wrong: `verify`/`load` say which
 * answer is wrong (the main corpus test checks the other as usual, and always checks that
 * nothing was written outside the store and that the store is as it was or intact).
 * Empty at the moment: the five found first (verify answering ENOTFOUND for entries the
 * structure check had dropped; an image ref like `../../tmp/x` accepted) were fixed in src/.
 * Add an entry, and a test in a KNOWN-hostile.test.ts, when a new one turns up.
 */
export const HOSTILE_GAPS: Record<
  string,
  { verify: boolean; load: boolean; description: string; test: string }
> = {};
