/**
 * Vitest global setup: one temporary FERRY_STATE_DIR for the whole run, so that the
 * anti-rollback records `ferry load --to-registry` keeps per registry (docs/offline-registry.md)
 * never leave the run or carry over from an earlier one (test registries reuse ports).
 */

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ferry-test-state-"));
  process.env.FERRY_STATE_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
