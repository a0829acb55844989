/**
 * An interrupted copy, in-process: the abort comes from the copy's own progress events (so the
 * point is exact, no timing), for a load into a store, a save into a bundle, and a load waiting
 * for the store lock. Each ends with an InterruptedError saying the destination is as it was
 * and this run's temporary files were removed, and nothing of the run is left on disk.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CopyEvent } from "../../src/engine/copy.js";
import { InterruptedError, type InterruptSignal } from "../../src/errors.js";
import { loadBundle } from "../../src/ops/load.js";
import { saveBundle } from "../../src/ops/save.js";
import { DirectoryFiles } from "../../src/transports/layout/layout-files.js";
import { LayoutSource } from "../../src/transports/layout/source.js";
import { acquireLock, type LockWait, setLockWaitListener } from "../../src/util/lock.js";
import { tempDir } from "../helpers/cli.js";
import { threeImageLayout } from "../helpers/oci-layout.js";
import { saveLayout } from "../helpers/stress-bundles.js";

const tmp = tempDir("ferry-interrupt-");
const layout = path.join(tmp.dir, "layout");
const bundle = path.join(tmp.dir, "three.zip");

beforeAll(async () => {
  // Several 1 MiB pump chunks per big blob: the abort lands inside a copy.
  threeImageLayout(layout, { base: 6 * 1024 * 1024 + 3, own: 3 * 1024 * 1024 + 1 });
  await saveLayout(layout, bundle);
});
afterAll(() => tmp.cleanup());

/** Abort with SIGINT at the first bytes copied; count the events after. */
function abortAtFirstBytes(signal: InterruptSignal = "SIGINT") {
  const controller = new AbortController();
  const events: CopyEvent[] = [];
  return {
    signal: controller.signal,
    events,
    onEvent: (event: CopyEvent) => {
      events.push(event);
      if (event.type === "blob-progress" && !controller.signal.aborted) {
        controller.abort(new InterruptedError(signal));
      }
    },
  };
}

function indexOf(store: string): string {
  return readFileSync(path.join(store, "index.json"), "utf8");
}

describe("an interrupted copy", () => {
  it("load: nothing committed, the staging folder removed, InterruptedError saying so", async () => {
    const store = path.join(tmp.dir, "store");
    const abort = abortAtFirstBytes();
    const error = await loadBundle(bundle, {
      storeDir: store,
      signal: abort.signal,
      onEvent: abort.onEvent,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(130);
    expect((error as Error).message).toBe(
      `interrupted by SIGINT before anything was committed: store ${store} is as it was before, and this run's temporary files were removed; running the same command again starts over (blobs already at the destination or in the download cache are not transferred again)`,
    );
    expect(abort.events.some((e) => e.type === "commit")).toBe(false);
    expect(JSON.parse(indexOf(store)).manifests).toEqual([]);
    expect(readdirSync(path.join(store, "blobs", "sha256"))).toEqual([]);
    expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
    // Running it again completes.
    const again = await loadBundle(bundle, { storeDir: store });
    expect(again.images).toHaveLength(3);
  });

  it("save: no bundle, its temp file removed", async () => {
    const out = path.join(tmp.dir, "out", "saved.zip");
    const abort = abortAtFirstBytes("SIGTERM");
    const source = await LayoutSource.open(new DirectoryFiles(layout), {
      transport: `oci:${layout}`,
      fallbackRepository: "localhost/x",
    });
    mkdirSync(path.dirname(out));
    const error = await saveBundle([{ source, platforms: "all" }], {
      output: out,
      tool: "test",
      signal: abort.signal,
      onEvent: abort.onEvent,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(143);
    expect((error as Error).message).toMatch(
      /^interrupted by SIGTERM before anything was committed: bundle .*saved\.zip is as it was before, and this run's temporary files were removed/,
    );
    expect(readdirSync(path.dirname(out))).toEqual([]);
  });

  it("load waiting for the store lock: stops waiting, staged blobs removed", async () => {
    const store = path.join(tmp.dir, "store-locked");
    await loadBundle(bundle, { storeDir: store }); // creates the store
    const before = indexOf(store);
    // Another process's load holds the lock (this test process: alive); ours stages every
    // blob, then waits at commit. The abort comes when it starts to wait.
    const held = await acquireLock(path.join(store, ".ferry", "lock"), { purpose: "test" });
    const controller = new AbortController();
    const waits: LockWait[] = [];
    setLockWaitListener((wait) => {
      waits.push(wait);
      controller.abort(new InterruptedError("SIGHUP"));
    });
    try {
      const other = path.join(tmp.dir, "other.zip");
      const otherLayout = path.join(tmp.dir, "other-layout");
      threeImageLayout(otherLayout, { base: 100_000, own: 50_000 });
      await saveLayout(otherLayout, other);
      const error = await loadBundle(other, { storeDir: store, signal: controller.signal }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InterruptedError);
      expect((error as InterruptedError).exitCode).toBe(129);
      expect(waits).toHaveLength(1);
      expect(indexOf(store)).toBe(before);
      expect(readdirSync(path.join(store, ".ferry", "tmp"))).toEqual([]);
    } finally {
      setLockWaitListener(undefined);
      await held.release();
    }
  });
});
