/**
 * Anti-rollback: an older bundle (a replayed stick, a mix-up) does not move names back
 * silently. Under --trust the signer's sequence decides; without trust, a name that would
 * move to an older bundle's image is a downgrade. Both need --allow-downgrade. The same rule
 * holds for `load --to-registry`, whose record this host keeps (FERRY_STATE_DIR here).
 */

import { readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RollbackGuard } from "../../src/ops/rollback.js";
import { saveBundle } from "../../src/ops/save.js";
import { openSource, parseSource } from "../../src/transports/table.js";
import { emptyRollbackState, judgeRollback, recordLoad } from "../../src/types/rollback.js";
import { ferry, ferryJson, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { hasRegistry, startRegistry } from "../helpers/registry.js";
import { newSigner } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";

const APP = "test.example/app:1";
const tmp = tempDir("ferry-rollback-");
const key = path.join(tmp.dir, "signer");
const env = { FERRY_STATE_DIR: path.join(tmp.dir, "state") };

/** A layout holding one image under APP, of fresh random bytes. */
function layout(name: string): string {
  const dir = path.join(tmp.dir, `layout-${name}`);
  const builder = createLayout(dir);
  builder.tag(APP, builder.image({ layers: [randomLayer(8 * 1024)] }));
  builder.finish();
  return dir;
}

interface Saved {
  bundle: string;
  digest: string;
  sequence?: number;
  signedBy?: string;
}

/** `ferry save oci:LAYOUT -o NAME.zip [args]`, as a user runs it. */
function save(name: string, args: string[] = []): Saved {
  const bundle = path.join(tmp.dir, `${name}.zip`);
  const result = ferryJson<{
    images: Array<{ digest: string }>;
    sequence?: number;
    signedBy?: string;
  }>(["save", `oci:${layout(name)}`, "-o", bundle, ...args]);
  expect(result.code, result.stderr).toBe(0);
  const saved: Saved = { bundle, digest: result.json.images[0]?.digest ?? "" };
  if (result.json.sequence !== undefined) saved.sequence = result.json.sequence;
  if (result.json.signedBy !== undefined) saved.signedBy = result.json.signedBy;
  return saved;
}

type LoadJson = { images: Array<{ ref: string; digest: string; status: string }> };

function load(bundle: string, store: string, args: string[] = []) {
  return ferry(["load", bundle, "--store", store, "--json", ...args], { env });
}

function storeDigest(store: string): string | undefined {
  const index = JSON.parse(readFileSync(path.join(store, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  return index.manifests.find(
    (d) => d.annotations?.["org.opencontainers.image.ref.name"] === `${APP}`,
  )?.digest;
}

beforeAll(() => {
  expect(ferry(["keygen", "-o", key]).code).toBe(0);
});
afterAll(() => tmp.cleanup());

describe("save --sign numbers bundles", () => {
  it("counts up per key in KEY.sequence; --sequence sets the next number, never a used one", () => {
    const other = path.join(tmp.dir, "numbering");
    expect(ferry(["keygen", "-o", other]).code).toBe(0);
    expect(save("n1", ["--sign", other]).sequence).toBe(1);
    expect(save("n2", ["--sign", other]).sequence).toBe(2);
    expect(save("n7", ["--sign", other, "--sequence", "7"]).sequence).toBe(7);
    const eighth = save("n8", ["--sign", other]);
    expect(eighth.sequence).toBe(8);
    const inspected = ferryJson<{ sequence?: number }>(["inspect", eighth.bundle]);
    expect(inspected.json.sequence).toBe(8);
    const reused = ferry([
      "save",
      `oci:${layout("n3")}`,
      "-o",
      path.join(tmp.dir, "n3.zip"),
      "--sign",
      other,
      "--sequence",
      "3",
    ]);
    expect(reused.code).toBe(2);
    expect(reused.stderr).toMatch(/--sequence 3 is not above 8/);
    const counter = JSON.parse(readFileSync(`${other}.sequence`, "utf8")) as { sequence: number };
    expect(counter.sequence).toBe(8);
    const unsigned = ferry(["save", `oci:${layout("n0")}`, "-o", path.join(tmp.dir, "n0.zip")]);
    expect(unsigned.code).toBe(0);
    expect(
      ferry(["save", `oci:${layout("nx")}`, "-o", path.join(tmp.dir, "nx.zip"), "--sequence", "4"])
        .code,
    ).toBe(2);
  });
});

describe("signed bundles under --trust: the sequence decides", () => {
  let older: Saved;
  let newer: Saved;
  beforeAll(() => {
    older = save("signed-1", ["--sign", key]);
    newer = save("signed-2", ["--sign", key]);
    expect(newer.sequence).toBe((older.sequence ?? 0) + 1);
  });

  it("newer then older: refused (exit 6, EDOWNGRADE) naming key, sequences and the way out; the store unchanged", () => {
    const store = path.join(tmp.dir, "store-signed");
    expect(load(newer.bundle, store, ["--trust", `${key}.pub`]).code).toBe(0);
    const before = fingerprint(store, []);
    const refused = load(older.bundle, store, ["--trust", `${key}.pub`]);
    expect(refused.code, refused.stderr).toBe(6);
    const error = (
      JSON.parse(refused.stdout) as { error: { code: string; message: string; hint: string } }
    ).error;
    expect(error.code).toBe("EDOWNGRADE");
    expect(error.message).toContain(`key ${older.signedBy}`);
    expect(error.message).toContain(`sequence ${older.sequence}`);
    expect(error.message).toContain(`loaded sequence ${newer.sequence}`);
    expect(error.hint).toContain("--allow-downgrade");
    expect(fingerprint(store, [])).toEqual(before);
    expect(storeDigest(store)).toBe(newer.digest);
  });

  it("with --allow-downgrade the older bundle loads and the name is reported downgraded", () => {
    const store = path.join(tmp.dir, "store-signed-allowed");
    expect(load(newer.bundle, store, ["--trust", `${key}.pub`]).code).toBe(0);
    const allowed = load(older.bundle, store, ["--trust", `${key}.pub`, "--allow-downgrade"]);
    expect(allowed.code, allowed.stderr).toBe(0);
    const report = JSON.parse(allowed.stdout) as LoadJson;
    expect(report.images).toMatchObject([{ ref: APP, digest: older.digest, status: "downgraded" }]);
    expect(storeDigest(store)).toBe(older.digest);
    // The record keeps the highest sequence: the older one is still refused without the flag.
    expect(load(newer.bundle, store, ["--trust", `${key}.pub`]).code).toBe(0);
    expect(load(older.bundle, store, ["--trust", `${key}.pub`]).code).toBe(6);
  });

  it("a dry run judges as the load does: refused without the flag, downgraded with it, nothing written", () => {
    const store = path.join(tmp.dir, "store-signed-dry");
    expect(load(newer.bundle, store, ["--trust", `${key}.pub`]).code).toBe(0);
    const before = fingerprint(store, []);
    const refused = load(older.bundle, store, ["--trust", `${key}.pub`, "--dry-run"]);
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stdout).toContain("EDOWNGRADE");
    const allowed = load(older.bundle, store, [
      "--trust",
      `${key}.pub`,
      "--dry-run",
      "--allow-downgrade",
    ]);
    expect(allowed.code, allowed.stderr).toBe(0);
    const report = JSON.parse(allowed.stdout) as LoadJson;
    expect(report.images).toMatchObject([{ ref: APP, digest: older.digest, status: "downgraded" }]);
    expect(fingerprint(store, [])).toEqual(before);
  });

  it("a record replaced by a link (to a forged, empty record) is refused, not followed", () => {
    const store = path.join(tmp.dir, "store-signed-link");
    expect(load(newer.bundle, store, ["--trust", `${key}.pub`]).code).toBe(0);
    const record = path.join(store, ".ferry", "rollback.json");
    const forged = path.join(tmp.dir, "forged-rollback.json");
    writeFileSync(forged, '{"schema":"ferry.rollback/v1","keys":{},"tags":{}}');
    rmSync(record);
    symlinkSync(forged, record);
    const refused = load(older.bundle, store, ["--trust", `${key}.pub`]);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stdout).toContain("EBADSTORE");
    expect(refused.stdout).toContain("rollback.json");
    expect(storeDigest(store)).toBe(newer.digest);
  });

  it("the same bundle loads again; a newer one after an older one loads as an update", () => {
    const store = path.join(tmp.dir, "store-signed-again");
    expect(load(older.bundle, store, ["--trust", `${key}.pub`]).code).toBe(0);
    expect(load(older.bundle, store, ["--trust", `${key}.pub`]).code).toBe(0);
    const update = load(newer.bundle, store, ["--trust", `${key}.pub`]);
    expect(update.code).toBe(0);
    expect((JSON.parse(update.stdout) as LoadJson).images[0]?.status).toBe("updated");
  });

  it("the clock plays no part: a higher sequence with an older creation time loads", async () => {
    const signer = newSigner();
    const store = path.join(tmp.dir, "store-clock");
    const bundles = [];
    for (const [sequence, created] of [
      [1, "2026-06-01T00:00:00Z"],
      [2, "2020-01-01T00:00:00Z"],
    ] as const) {
      const bundle = path.join(tmp.dir, `clock-${sequence}.zip`);
      const source = await openSource(parseSource(`oci:${layout(`clock-${sequence}`)}`));
      await saveBundle([{ source, platforms: "all" }], {
        output: bundle,
        tool: "ferry test",
        signer: { ...signer.signer, sequence },
        created: new Date(created),
      });
      await source.close();
      bundles.push(bundle);
    }
    const pub = path.join(tmp.dir, "clock.pub");
    writeFileSync(pub, signer.publicPem);
    expect(load(bundles[0] as string, store, ["--trust", pub]).code).toBe(0);
    const second = load(bundles[1] as string, store, ["--trust", pub]);
    expect(second.code, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as LoadJson).images[0]?.status).toBe("updated");
  });

  it("a signed bundle without a sequence (older ferry) counts as 0: refused once a numbered one was loaded", async () => {
    const signer = newSigner();
    const pub = path.join(tmp.dir, "legacy.pub");
    writeFileSync(pub, signer.publicPem);
    const bundles: string[] = [];
    for (const [name, sequence] of [
      ["legacy", undefined],
      ["numbered", 1],
    ] as const) {
      const bundle = path.join(tmp.dir, `${name}.zip`);
      const source = await openSource(parseSource(`oci:${layout(name)}`));
      await saveBundle([{ source, platforms: "all" }], {
        output: bundle,
        tool: "ferry test",
        signer: sequence ? { ...signer.signer, sequence } : signer.signer,
      });
      await source.close();
      bundles.push(bundle);
    }
    const [legacy, numbered] = bundles as [string, string];
    const fresh = path.join(tmp.dir, "store-legacy-fresh");
    expect(load(legacy, fresh, ["--trust", pub]).code).toBe(0);
    const store = path.join(tmp.dir, "store-legacy");
    expect(load(numbered, store, ["--trust", pub]).code).toBe(0);
    const refused = load(legacy, store, ["--trust", pub]);
    expect(refused.code).toBe(6);
    expect(refused.stdout).toMatch(/carries no sequence/);
    expect(load(legacy, store, ["--trust", pub, "--allow-downgrade"]).code).toBe(0);
  });
});

describe("unsigned bundles: a name moving to an older bundle's image is a downgrade", () => {
  it("older after newer: refused naming the image, the store unchanged; --allow-downgrade loads it as downgraded", () => {
    const older = save("plain-1");
    const newer = save("plain-2");
    const store = path.join(tmp.dir, "store-plain");
    expect(load(newer.bundle, store).code).toBe(0);
    const before = fingerprint(store, []);
    const refused = load(older.bundle, store);
    expect(refused.code).toBe(6);
    const error = (JSON.parse(refused.stdout) as { error: { code: string; message: string } })
      .error;
    expect(error.code).toBe("EDOWNGRADE");
    expect(error.message).toContain(APP);
    expect(error.message).toContain("downgraded");
    expect(fingerprint(store, [])).toEqual(before);
    const allowed = load(older.bundle, store, ["--allow-downgrade"]);
    expect(allowed.code).toBe(0);
    expect((JSON.parse(allowed.stdout) as LoadJson).images).toMatchObject([
      { ref: APP, digest: older.digest, status: "downgraded" },
    ]);
    // Now the older image is what the name holds: the newer bundle is an update again.
    const update = load(newer.bundle, store);
    expect(update.code).toBe(0);
    expect((JSON.parse(update.stdout) as LoadJson).images[0]?.status).toBe("updated");
  });

  it("a name changed since by other means (ferry tag, rmi) has no record to compare: no downgrade", () => {
    const older = save("plain-tag-1");
    const newer = save("plain-tag-2");
    const store = path.join(tmp.dir, "store-plain-tag");
    expect(load(newer.bundle, store).code).toBe(0);
    expect(ferry(["rmi", APP, "--store", store]).code).toBe(0);
    expect(load(older.bundle, store).code).toBe(0);
  });
});

describe("the judgement, under the lock", () => {
  it("commit judges again: a newer load that committed after the early check wins", async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir.dir, "rollback.json");
      const claim = (id: string, created: string, digest: string) => ({
        id,
        created,
        tags: new Map([[APP, digest]]),
      });
      const labels = { bundle: "old.zip", where: "the test store" };
      const oldGuard = new RollbackGuard(
        file,
        claim("old", "2026-01-01T00:00:00Z", "sha256:o"),
        labels,
        false,
      );
      await oldGuard.check(new Map([[APP, "sha256:x"]]));
      const newGuard = new RollbackGuard(
        file,
        claim("new", "2026-02-01T00:00:00Z", "sha256:n"),
        labels,
        false,
      );
      await newGuard.commit(new Map([[APP, "sha256:x"]]));
      await expect(oldGuard.commit(new Map([[APP, "sha256:n"]]))).rejects.toMatchObject({
        code: "EDOWNGRADE",
      });
    } finally {
      dir.cleanup();
    }
  });

  it("a key's sequence only rises; names keep the later bundle for the same image", () => {
    const signed = (sequence: number) => ({
      id: `b${sequence}`,
      created: "2026-01-01T00:00:00Z",
      signer: { keyId: "k", sequence },
      tags: new Map([[APP, "sha256:a"]]),
    });
    let state = recordLoad(emptyRollbackState(), signed(5));
    state = recordLoad(state, signed(3));
    expect(state.keys.k?.sequence).toBe(5);
    expect(judgeRollback(state, signed(4), new Map()).olderSequence?.sequence).toBe(4);
    expect(judgeRollback(state, signed(5), new Map()).olderSequence).toBeUndefined();
  });
});

describe.skipIf(!hasRegistry)("load --to-registry: the loading host remembers", () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  function push(bundle: string, args: string[] = []) {
    return ferry(["load", bundle, "--to-registry", `${registry.host}/mirror`, "--json", ...args], {
      env,
    });
  }

  async function tagDigest(): Promise<string | undefined> {
    const response = await fetch(`${registry.url}/v2/mirror/app/manifests/1`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    return response.headers.get("docker-content-digest") ?? undefined;
  }

  it("signed: newer then older is refused before anything is pushed; --allow-downgrade pushes it", async () => {
    const older = save("reg-signed-1", ["--sign", key]);
    const newer = save("reg-signed-2", ["--sign", key]);
    expect(push(newer.bundle, ["--trust", `${key}.pub`]).code).toBe(0);
    expect(await tagDigest()).toBe(newer.digest);
    const refused = push(older.bundle, ["--trust", `${key}.pub`]);
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stdout).toMatch(/EDOWNGRADE/);
    expect(await tagDigest()).toBe(newer.digest);
    const allowed = push(older.bundle, ["--trust", `${key}.pub`, "--allow-downgrade"]);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(
      (JSON.parse(allowed.stdout) as { images: Array<{ status: string }> }).images[0]?.status,
    ).toBe("downgraded");
    expect(await tagDigest()).toBe(older.digest);
  });

  it("unsigned: a tag moving to an older bundle's image is refused; --allow-downgrade pushes it", async () => {
    const older = save("reg-plain-1");
    const newer = save("reg-plain-2");
    expect(push(newer.bundle).code).toBe(0);
    const refused = push(older.bundle);
    expect(refused.code).toBe(6);
    expect(refused.stdout).toContain(`${registry.host}/mirror/app:1`);
    expect(await tagDigest()).toBe(newer.digest);
    expect(push(older.bundle, ["--allow-downgrade"]).code).toBe(0);
    expect(await tagDigest()).toBe(older.digest);
  });
});
