/**
 * Bytes that decide trust or identity are read once, into memory, and everything uses that
 * buffer: a storage device that answers differently on each read (a hostile USB stick, a
 * racing writer on a shared folder) cannot get a second answer used.
 *
 * Two test doubles stand in for such storage: one wraps the bundle's random-access reader
 * (test/helpers/fickle-bundle.ts: a zip entry's first read and later reads answer
 * differently), one the file system (test/helpers/fickle-files.ts: each open of a file is
 * one read of it, answered by the next version).
 */

import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { readDeltaBase } from "../../src/ops/delta-base.js";
import { inspectBundle } from "../../src/ops/inspect-bundle.js";
import { loadBundle } from "../../src/ops/load.js";
import { pushFromStore } from "../../src/ops/push/from-store.js";
import { verifyBundle } from "../../src/ops/verify.js";
import { credentialLookup } from "../../src/transports/registry/credentials.js";
import { openClient } from "../../src/transports/registry/session.js";
import { parsePartsManifest, serializePartsManifest } from "../../src/types/parts.js";
import { tempDir } from "../helpers/cli.js";
import { forgeBundle, forgeImage, sha256Hex } from "../helpers/corpus/forge-bundle.js";
import { buildZip } from "../helpers/corpus/raw-zip.js";
import { errorOf } from "../helpers/errors.js";
import { entryRegions, watchBundleReads } from "../helpers/fickle-bundle.js";
import { clearFickle, countReads, makeFickle, readsOf } from "../helpers/fickle-files.js";
import { threeImageLayout } from "../helpers/oci-layout.js";
import { hasRegistry, startRegistry } from "../helpers/registry.js";
import { newSigner, saveLayout } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";

vi.mock("node:fs/promises", async (importOriginal) => {
  const { fickleFs } = await import("../helpers/fickle-files.js");
  return fickleFs(await importOriginal());
});

const signer = newSigner();
const tmp = tempDir("ferry-read-once-");
const layoutDir = path.join(tmp.dir, "layout");
const genuine = path.join(tmp.dir, "genuine.zip");
const split = path.join(tmp.dir, "split", "genuine.zip");

/** The bytes of one entry of a bundle. */
async function entryBytes(bundle: string, name: string): Promise<Buffer> {
  const region = (await entryRegions(bundle)).find((r) => r.name === name);
  if (!region) throw new Error(`no ${name} in ${bundle}`);
  return readFileSync(bundle).subarray(region.start, region.start + region.length);
}

/** Image names in a store (none when there is no store). */
function storeRefs(store: string): string[] {
  const file = path.join(store, "index.json");
  if (!existsSync(file)) return [];
  const index = JSON.parse(readFileSync(file, "utf8")) as {
    manifests: Array<{ annotations?: Record<string, string> }>;
  };
  return index.manifests.map((d) => d.annotations?.["org.opencontainers.image.ref.name"] ?? "");
}

beforeAll(async () => {
  threeImageLayout(layoutDir);
  mkdirSync(path.dirname(split));
  await saveLayout(layoutDir, genuine, { signer });
  await saveLayout(layoutDir, split, { signer, partSize: 64 * 1024 });
});
afterEach(() => {
  vi.restoreAllMocks();
  clearFickle();
});
afterAll(() => tmp.cleanup());

describe("ferry.json answers the signed bytes first and forged bytes after", () => {
  /**
   * The attack: a zip of the attacker's own content (an unsigned image, a self-consistent
   * ferry.json F and SHA256SUMS), carrying the signer's genuine ferry.json.sig. The device
   * answers the ferry.json region with the genuine signed bytes S on its first read and with
   * F on every later one. A reader that checks the signature on one read and parses another
   * installs the attacker's image under the signer's name.
   */
  async function forgedRace(): Promise<{ bundle: string; signed: Buffer }> {
    const signed = await entryBytes(genuine, "ferry.json");
    const signature = await entryBytes(genuine, "ferry.json.sig");
    const evil = forgeImage("docker.io/library/evil:1", [randomBytes(2048)]);
    const unpadded = forgeBundle([evil]).ferry;
    expect(unpadded.length).toBeLessThan(signed.length);
    const ferry = Buffer.concat([
      unpadded.subarray(0, unpadded.length - 1),
      Buffer.alloc(signed.length - unpadded.length, " "),
      Buffer.from("\n"),
    ]);
    const entries = forgeBundle([evil], { ferryBytes: ferry }).entries;
    const sums = entries.pop();
    if (sums?.name !== "SHA256SUMS") throw new Error("forgeBundle ends with SHA256SUMS");
    entries.push({ name: "ferry.json.sig", data: signature });
    entries.push({
      name: "SHA256SUMS",
      data: Buffer.concat([sums.data, Buffer.from(`${sha256Hex(signature)}  ferry.json.sig\n`)]),
    });
    const bundle = path.join(tmp.dir, `race-${randomUUID()}.zip`);
    writeFileSync(bundle, buildZip(entries));
    return { bundle, signed };
  }

  async function raceOn(bundle: string, signed: Buffer) {
    const region = (await entryRegions(bundle)).find((r) => r.name === "ferry.json");
    if (!region) throw new Error("no ferry.json");
    return watchBundleReads(bundle, [{ ...region, first: signed }]);
  }

  it("load --trust installs nothing and refuses; the store stays as it was", async () => {
    const { bundle, signed } = await forgedRace();
    const store = path.join(tmp.dir, `store-${randomUUID()}`);
    const reads = await raceOn(bundle, signed);
    const error = await errorOf(loadBundle(bundle, { storeDir: store, trust: signer.trust }));
    expect(["EBADBUNDLE", "ETRUST"]).toContain(error.code);
    expect(storeRefs(store)).toEqual([]);
    expect(reads.counts()["ferry.json"]).toBe(1);
  });

  it("verify --trust does not report the forged content as signed", async () => {
    const { bundle, signed } = await forgedRace();
    const reads = await raceOn(bundle, signed);
    const report = await verifyBundle(bundle, { trust: signer.trust }).catch((e: unknown) => e);
    if (report instanceof Error) {
      expect((report as { code?: string }).code).toBe("ETRUST");
    } else {
      const verdict = report as Awaited<ReturnType<typeof verifyBundle>>;
      expect(verdict.ok).toBe(false);
      expect(verdict.images.map((i) => i.ref)).not.toContain("docker.io/library/evil:1");
    }
    expect(reads.counts()["ferry.json"]).toBe(1);
  });
});

describe("every entry that decides trust or identity is read once", () => {
  const FIXED = ["oci-layout", "index.json", "ferry.json", "ferry.json.sig", "SHA256SUMS"];

  async function countedRun(bundle: string, action: () => Promise<unknown>) {
    const regions = await entryRegions(bundle);
    const reads = watchBundleReads(bundle, regions);
    await action();
    const counts = reads.counts();
    reads.restore();
    return { regions, counts };
  }

  for (const [kind, bundle] of [
    ["one file", () => genuine],
    ["split volumes", () => `${split}.parts`],
  ] as const) {
    it(`${kind}: load and verify read every entry exactly once; inspect and --since each fixed file once`, async () => {
      const loaded = await countedRun(bundle(), () =>
        loadBundle(bundle(), {
          storeDir: path.join(tmp.dir, `store-${randomUUID()}`),
          trust: signer.trust,
        }),
      );
      for (const region of loaded.regions) {
        expect(loaded.counts[region.name], `load: ${region.name}`).toBe(1);
      }
      const verified = await countedRun(bundle(), () =>
        verifyBundle(bundle(), { trust: signer.trust }),
      );
      for (const region of verified.regions) {
        expect(verified.counts[region.name], `verify: ${region.name}`).toBe(1);
      }
      for (const [what, action] of [
        ["inspect", () => inspectBundle(bundle())],
        ["--since", () => readDeltaBase(bundle())],
        ["--since (a part)", () => readDeltaBase(bundle().replace(/\.parts$/, ".001"))],
      ] as const) {
        const { counts } = await countedRun(bundle(), action);
        for (const name of FIXED) expect(counts[name], `${what}: ${name}`).toBe(1);
      }
    });
  }

  it("split volumes: the .parts file and its signature are read once by load, verify and inspect", async () => {
    const parts = `${split}.parts`;
    for (const [what, action] of [
      [
        "load",
        () =>
          loadBundle(parts, {
            storeDir: path.join(tmp.dir, `store-${randomUUID()}`),
            trust: signer.trust,
          }),
      ],
      ["verify", () => verifyBundle(parts, { trust: signer.trust })],
      ["inspect", () => inspectBundle(parts)],
    ] as const) {
      countReads(parts, readFileSync(parts));
      countReads(`${parts}.sig`, readFileSync(`${parts}.sig`));
      await action();
      expect(readsOf(parts), `${what}: .parts`).toBe(1);
      if (what !== "inspect") expect(readsOf(`${parts}.sig`), `${what}: .parts.sig`).toBe(1);
      clearFickle();
    }
  });
});

describe("entries that answer the first read honestly and later reads forged", () => {
  /** What an honest load of the genuine bundle puts in a store. */
  let honest: Record<string, string>;
  beforeAll(async () => {
    const store = path.join(tmp.dir, "honest-store");
    await loadBundle(genuine, { storeDir: store, trust: signer.trust });
    honest = fingerprint(store);
  });

  /** Regions whose later reads answer with every byte flipped. */
  async function forgedLater(names: (name: string) => boolean) {
    const bytes = readFileSync(genuine);
    const regions = (await entryRegions(genuine)).filter((r) => names(r.name));
    expect(regions.length).toBeGreaterThan(0);
    return regions.map((r) => ({
      ...r,
      later: Buffer.from(bytes.subarray(r.start, r.start + r.length).map((b) => b ^ 0xff)),
    }));
  }

  const manifests = async () => {
    const ferry = JSON.parse((await entryBytes(genuine, "ferry.json")).toString()) as {
      blobs: Array<{ digest: string; mediaType: string }>;
    };
    const of = (kind: RegExp) =>
      new Set(
        ferry.blobs
          .filter((b) => kind.test(b.mediaType))
          .map((b) => `blobs/sha256/${b.digest.slice(7)}`),
      );
    return { manifests: of(/manifest/), configs: of(/config/) };
  };

  for (const [what, pick] of [
    ["SHA256SUMS", async () => (name: string) => name === "SHA256SUMS"],
    ["index.json", async () => (name: string) => name === "index.json"],
    ["the signature", async () => (name: string) => name === "ferry.json.sig"],
    [
      "every manifest",
      async () => {
        const { manifests: set } = await manifests();
        return (name: string) => set.has(name);
      },
    ],
    [
      "every config",
      async () => {
        const { configs: set } = await manifests();
        return (name: string) => set.has(name);
      },
    ],
  ] as const) {
    it(`${what}: load --trust installs exactly the honest content`, async () => {
      const regions = await forgedLater(await pick());
      const reads = watchBundleReads(genuine, regions);
      const store = path.join(tmp.dir, `store-${randomUUID()}`);
      await loadBundle(genuine, { storeDir: store, trust: signer.trust });
      expect(fingerprint(store)).toEqual(honest);
      for (const region of regions) expect(reads.counts()[region.name]).toBe(1);
    });
  }
});

describe("a .parts file that answers differently on each read", () => {
  const parts = `${split}.parts`;
  /** The same .parts for another bundle id: what ferry would write, but not signed. */
  const forged = () => {
    const manifest = parsePartsManifest(readFileSync(parts), "genuine.zip.parts");
    return serializePartsManifest({ ...manifest, id: randomUUID() });
  };

  it("signed first, forged after: verify --trust checks and reports the one .parts it read", async () => {
    const signed = readFileSync(parts);
    makeFickle(parts, [signed, forged()]);
    const report = await verifyBundle(parts, { trust: signer.trust });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.split?.id).toBe(parsePartsManifest(signed, "genuine.zip.parts").id);
    expect(readsOf(parts)).toBe(1);
  });

  it("forged first, signed after: verify --trust and load --trust refuse it (ETRUST)", async () => {
    const signed = readFileSync(parts);
    makeFickle(parts, [forged(), signed]);
    expect((await errorOf(verifyBundle(parts, { trust: signer.trust }))).code).toBe("ETRUST");
    makeFickle(parts, [forged(), signed]);
    const store = path.join(tmp.dir, `store-${randomUUID()}`);
    const error = await errorOf(loadBundle(parts, { storeDir: store, trust: signer.trust }));
    expect(error.code).toBe("ETRUST");
    expect(storeRefs(store)).toEqual([]);
  });
});

describe("a have-list that answers differently on each read", () => {
  it("save --since takes what its one read of the have-list says", async () => {
    const file = path.join(tmp.dir, "have.json");
    const have = (digest: string) =>
      Buffer.from(
        JSON.stringify({
          schema: "ferry.have/v1",
          storeId: "store-1",
          created: "2026-12-01T00:00:00.000Z",
          tool: "ferry test",
          blobs: [digest],
          images: [{ ref: "docker.io/library/alpine:3.19", digest }],
        }),
      );
    const honest = `sha256:${"a".repeat(64)}`;
    const forged = `sha256:${"b".repeat(64)}`;
    writeFileSync(file, have(honest));
    makeFickle(file, [have(honest), have(forged)]);
    const base = await readDeltaBase(file);
    expect([...base.blobs]).toEqual([honest]);
    expect([...base.images.values()]).toEqual([honest]);
    expect(readsOf(file)).toBe(1);
  });
});

describe.skipIf(!hasRegistry)("the store's index.json when pushing", () => {
  it("push from the store resolves and pushes from one read of index.json", async () => {
    const store = path.join(tmp.dir, `store-${randomUUID()}`);
    await loadBundle(genuine, { storeDir: store, trust: signer.trust });
    const indexFile = path.join(store, "index.json");
    const honestIndex = readFileSync(indexFile);
    const doc = JSON.parse(honestIndex.toString()) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    const [one, two] = doc.manifests as [(typeof doc.manifests)[0], (typeof doc.manifests)[0]];
    // Later reads name app:1 at app:2's image (same length: only the digests swap).
    const forgedIndex = Buffer.from(
      honestIndex
        .toString()
        .replaceAll(one.digest, "X".repeat(71))
        .replaceAll(two.digest, one.digest)
        .replaceAll("X".repeat(71), two.digest),
    );
    expect(forgedIndex.length).toBe(honestIndex.length);
    const registry = await startRegistry();
    try {
      const client = await openClient(registry.host, {
        credentials: credentialLookup({
          authFile: path.join(tmp.dir, "no-auth.json"),
          useDockerConfig: false,
        }),
      });
      makeFickle(indexFile, [honestIndex, forgedIndex]);
      const report = await pushFromStore(
        store,
        [{ ref: "test.example/app:1" }],
        { registry: registry.host, prefix: "" },
        { client },
      );
      client.close();
      expect(report.images.map((i) => i.digest)).toEqual([one.digest]);
      expect(readsOf(indexFile)).toBe(1);
    } finally {
      await registry.stop();
    }
  });
});
