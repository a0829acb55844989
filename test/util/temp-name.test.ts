import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BlobCache } from "../../src/cache/blob-cache.js";
import { findStaleTemp } from "../../src/ops/check.js";
import { Store } from "../../src/transports/layout/store.js";
import { tempNameOwner, uniqueTempName } from "../../src/util/temp-name.js";
import { tempDir } from "../helpers/cli.js";

/** The pid of a process that has exited. */
const deadPid = spawnSync(process.execPath, ["-e", "0"]).pid as number;
const hex = "ab".repeat(32);

describe("temp names", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("have one format, `<base>.<pid>.<hex>.tmp`, whose owner is read back", () => {
    const a = uniqueTempName("/x/bundle.zip");
    const b = uniqueTempName("/x/bundle.zip");
    expect(a).toMatch(new RegExp(`^/x/bundle\\.zip\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
    expect(a).not.toBe(b);
    expect(tempNameOwner(a)).toBe(process.pid);
    expect(tempNameOwner(path.basename(a))).toBe(process.pid);
  });

  it("older ferry's names are still recognised; other names are not temp names", () => {
    expect(tempNameOwner(`${hex}.1234-0badcafe.tmp`)).toBe(1234);
    expect(tempNameOwner(`located.json.1234.0badcafe.tmp`)).toBe(1234);
    expect(tempNameOwner(`load-1234-${randomUUID()}`)).toBe(1234);
    for (const name of [hex, `${hex}.lock`, "index.json", "x.tmp", "load", "quarantine"]) {
      expect(tempNameOwner(name), name).toBeUndefined();
    }
  });

  it("store check lists the leftovers of a dead process in both formats, not a live one's", async () => {
    const store = await Store.open(path.join(tmp.dir, "store"), { create: true });
    const live = await store.createStagingDir("load");
    expect(path.basename(live)).toMatch(new RegExp(`^load\\.${process.pid}\\.[0-9a-f]+\\.tmp$`));
    const dead = [
      `load-${deadPid}-${randomUUID()}`,
      `load.${deadPid}.0123456789ab.tmp`,
      `index.json.${deadPid}.0123456789ab.tmp`,
    ];
    for (const name of dead) mkdirSync(path.join(store.tmpDir, name));
    const stale = (await findStaleTemp(store)).map((file) => path.basename(file)).sort();
    expect(stale).toEqual([...dead].sort());
  });

  it("cache prune removes a dead process's temp downloads in both formats, not a live one's", async () => {
    const dir = path.join(tmp.dir, "cache");
    const cache = await BlobCache.open(dir);
    const partial = path.join(dir, "partial");
    const deadOld = `${hex}.${deadPid}-0badcafe.tmp`;
    const deadNew = `${hex}.${deadPid}.0123456789ab.tmp`;
    const liveOne = path.basename(uniqueTempName(hex));
    for (const name of [deadOld, deadNew, liveOne]) writeFileSync(path.join(partial, name), "x");
    await cache.prune({ all: true });
    expect(readdirSync(partial)).toEqual([liveOne]);
    expect(existsSync(path.join(partial, deadOld))).toBe(false);
  });
});
