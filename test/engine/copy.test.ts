/**
 * The copy engine with the hash worker pool and the store's deferred durability, in-process:
 * every staged file is fdatasynced and closed before it is linked into blobs/, and index.json
 * is replaced only after every link; big blobs (hashed on worker threads) that are damaged
 * are named by load and verify, in the images' order, and leave the store as it was.
 */

import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { CopyEvent } from "../../src/engine/copy.js";
import { checkStore } from "../../src/ops/check.js";
import { loadBundle } from "../../src/ops/load.js";
import { verifyBundle } from "../../src/ops/verify.js";
import { BundleReader } from "../../src/transports/bundle/reader.js";
import type { Digest } from "../../src/types/digest.js";
import { createLayout } from "../helpers/oci-layout.js";
import { Rng } from "../helpers/seeded.js";
import { saveLayout } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";

/** File-system calls the store makes, in the order they completed. */
const fsEvents = vi.hoisted(() => ({
  list: [] as Array<{ op: string; id?: number; from?: string; to?: string }>,
  nextId: 0,
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const record = fsEvents.list;
  const open = async (...args: Parameters<typeof real.open>): Promise<FileHandle> => {
    const handle = await real.open(...args);
    const id = fsEvents.nextId++;
    record.push({ op: "open", id, to: String(args[0]) });
    return new Proxy(handle, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property === "datasync" || property === "sync" || property === "close") {
          return async (...rest: unknown[]) => {
            const result = await value.apply(target, rest);
            record.push({ op: String(property), id });
            return result;
          };
        }
        return value.bind(target);
      },
    });
  };
  const rename = async (from: string, to: string) => {
    await real.rename(from, to);
    record.push({ op: "rename", from: String(from), to: String(to) });
  };
  const link = async (from: string, to: string) => {
    await real.link(from, to);
    record.push({ op: "link", from: String(from), to: String(to) });
  };
  const patched = { ...real, open, rename, link };
  return { ...patched, default: patched };
});

const MiB = 1024 * 1024;
let work: string;
let bundle: string;
/** Layers in the images' order: [base, own of app:1, own of app:2, own of app:3]. */
let layers: Array<{ digest: string; size: number }>;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "ferry-engine-"));
  const rng = new Rng(0x0e17);
  const layout = createLayout(path.join(work, "layout"));
  const base = rng.bytes(3 * MiB + 17);
  // app:1's own layer is the smallest big blob, app:3's the largest: the copy takes them in
  // the opposite order of the images.
  const own = [600 * 1024, 1 * MiB + 5, 5 * MiB + 3].map((size) => rng.bytes(size));
  layers = [];
  for (const [n, bytes] of own.entries()) {
    const image = layout.image({ layers: [base, bytes, rng.bytes(2000)] });
    layout.tag(`engine.example/app:${n + 1}`, image);
    if (n === 0) layers.push({ digest: image.layers[0] as string, size: base.length });
    layers.push({ digest: image.layers[1] as string, size: bytes.length });
  }
  layout.finish();
  bundle = path.join(work, "b.zip");
  await saveLayout(layout.dir, bundle);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A copy of the bundle with one byte flipped in each named blob's data. */
async function damaged(name: string, digests: string[]): Promise<string> {
  const reader = await BundleReader.open(bundle);
  const offsets = digests.map((d) => {
    const entry = reader.blobEntry(d as Digest);
    return entry.dataStart + Math.floor(entry.size / 2);
  });
  await reader.close();
  const copy = path.join(work, name);
  const { copyFileSync } = await import("node:fs");
  copyFileSync(bundle, copy);
  const fd = openSync(copy, "r+");
  for (const at of offsets) {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] = (byte[0] as number) ^ 0xff;
    writeSync(fd, byte, 0, 1, at);
  }
  closeSync(fd);
  return copy;
}

describe("load into the store", () => {
  it("makes every staged file durable before linking it, and names images last", async () => {
    const store = path.join(work, "store-order");
    const events: CopyEvent[] = [];
    fsEvents.list.length = 0;
    const report = await loadBundle(bundle, { storeDir: store, onEvent: (e) => events.push(e) });
    expect(report.images.map((i) => i.status)).toEqual(["new", "new", "new"]);

    const log = fsEvents.list;
    const opened = new Map<string, number>(); // path -> handle id of its last open
    const durable = new Set<number>(); // handles fdatasynced, then closed
    const synced = new Set<number>();
    const durablePaths = new Set<string>();
    let lastLink = -1;
    let indexRename = -1;
    for (const [at, event] of log.entries()) {
      if (event.op === "open") opened.set(event.to as string, event.id as number);
      else if (event.op === "datasync" || event.op === "sync") synced.add(event.id as number);
      else if (event.op === "close" && synced.has(event.id as number)) {
        durable.add(event.id as number);
        for (const [file, id] of opened) if (id === event.id) durablePaths.add(file);
      } else if (event.op === "rename") {
        if (durablePaths.has(event.from as string)) durablePaths.add(event.to as string);
        if (event.to === path.join(store, "index.json")) indexRename = at;
      } else if (event.op === "link" && event.to?.startsWith(path.join(store, "blobs"))) {
        expect(
          durablePaths.has(event.from as string),
          `${event.from} linked before fdatasync`,
        ).toBe(true);
        lastLink = at;
      }
    }
    // (The lock file is a link too: its record is linked whole to .ferry/lock.)
    const links = log.filter((e) => e.op === "link" && e.to?.startsWith(path.join(store, "blobs")));
    expect(links).toHaveLength(13); // 3 manifests, 3 configs, the base, 3 own + 3 small layers
    expect(indexRename).toBeGreaterThan(lastLink);

    // Four at once, largest first: the four lanes start with the four largest blobs.
    const started = events.flatMap((e) => (e.type === "blob-start" ? [e.size] : []));
    const largest = [...started].sort((a, b) => b - a).slice(0, 4);
    expect(started.slice(0, 4).sort((a, b) => b - a)).toEqual(largest);
    const check = await checkStore(store);
    expect(check.problems).toEqual([]);
    expect(check.staleTemp).toEqual([]);
  });

  it("refuses a damaged big blob (hashed on a worker) and installs nothing", async () => {
    const store = path.join(work, "store-damaged");
    const victim = layers[3] as { digest: string };
    const bad = await damaged("bad-big.zip", [victim.digest]);
    await expect(loadBundle(bad, { storeDir: store })).rejects.toMatchObject({
      code: "EINTEGRITY",
      message: expect.stringContaining(victim.digest),
    });
    const files = Object.keys(fingerprint(store, []));
    expect(files.filter((f) => !f.startsWith(".ferry"))).toEqual(["index.json", "oci-layout"]);
    expect(files.filter((f) => f.startsWith(path.join(".ferry", "tmp")))).toEqual([]);
    const check = await checkStore(store);
    expect(check).toMatchObject({ images: 0, problems: [], orphans: [], staleTemp: [] });
  });
});

describe("verify", () => {
  it("names every damaged big blob with its images, in the images' order", async () => {
    const small = layers[1] as { digest: string; size: number };
    const large = layers[3] as { digest: string; size: number };
    expect(small.size).toBeLessThan(large.size);
    const bad = await damaged("bad-two.zip", [large.digest, small.digest]);
    const report = await verifyBundle(bad);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.subject, p.code, p.images])).toEqual([
      [small.digest, "EINTEGRITY", ["engine.example/app:1"]],
      [large.digest, "EINTEGRITY", ["engine.example/app:3"]],
    ]);
    expect(report.images.map((i) => i.ok)).toEqual([false, true, false]);
  });

  it("checks a sound bundle", async () => {
    const report = await verifyBundle(bundle);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.blobsChecked).toBe(1 + 3 + 3 + 3 + 3);
  });
});
