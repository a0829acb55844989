import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import { pullImages } from "../../../src/ops/pull.js";
import { searchCatalog } from "../../../src/ops/registry-search.js";
import { listTags } from "../../../src/ops/registry-tags.js";
import { credentialLookup } from "../../../src/transports/registry/credentials.js";
import { type FaultProxy, startFaultProxy } from "../../helpers/fault-proxy.js";
import { closeServer, listenOnLoopback } from "../../helpers/loopback.js";
import {
  DOCKER_FOREIGN,
  makeImage,
  makeIndex,
  pushImage,
  type RunningRegistry,
  sha256,
  startRegistry,
  type TestImage,
} from "../../helpers/registry.js";
import {
  cachedDigests,
  removeTempDirs,
  saveRefs,
  tempDir,
  testSession,
  unzipAndCheck,
  withSession,
} from "./fixtures.js";

describe("registry source against the real distribution registry (anonymous)", () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let foreignServer: Server;
  let foreignUrl: string;
  let foreignHits = 0;
  const foreignBytes = randomBytes(200_000);
  let single: TestImage;
  let multi: TestImage;
  let windows: TestImage[];
  let legacy: TestImage;
  let badForeign: TestImage;

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    foreignServer = createServer((request, response) => {
      foreignHits++;
      if (request.url === "/wrong.tar.gz") {
        response
          .writeHead(200, { "Content-Length": foreignBytes.length })
          .end(Buffer.alloc(foreignBytes.length));
        return;
      }
      const range = /bytes=(\d+)-/.exec(request.headers.range ?? "");
      const start = range ? Number(range[1]) : 0;
      response.writeHead(range ? 206 : 200, {
        "Content-Length": foreignBytes.length - start,
        ...(range
          ? {
              "Content-Range": `bytes ${start}-${foreignBytes.length - 1}/${foreignBytes.length}`,
            }
          : {}),
      });
      response.end(foreignBytes.subarray(start));
    });
    foreignUrl = `http://127.0.0.1:${await listenOnLoopback(foreignServer)}`;

    const base = randomBytes(300_000);
    single = makeImage({ layers: [base, randomBytes(50_000)] });
    await pushImage(registry.url, "apps/single", "1.0", single);
    windows = ["10.0.17763.5000", "10.0.20348.2113", "10.0.20348.2227"].map((v) =>
      makeImage({
        platform: { os: "windows", architecture: "amd64", "os.version": v },
        layers: [randomBytes(10_000)],
      }),
    );
    multi = makeIndex([
      makeImage({
        platform: { os: "linux", architecture: "amd64" },
        layers: [base, randomBytes(20_000)],
      }),
      makeImage({
        platform: { os: "linux", architecture: "arm64", variant: "v8" },
        layers: [randomBytes(20_000)],
      }),
      ...windows,
    ]);
    await pushImage(registry.url, "apps/multi", "2.0", multi);
    legacy = makeImage({
      docker: true,
      platform: { os: "windows", architecture: "amd64", "os.version": "10.0.17763.5000" },
      foreign: [{ bytes: foreignBytes, urls: [`${foreignUrl}/base.tar.gz`] }],
      layers: [randomBytes(5_000)],
    });
    await pushImage(registry.url, "windows/legacy", "ltsc2019", legacy);
    badForeign = makeImage({
      docker: true,
      platform: { os: "windows", architecture: "amd64" },
      foreign: [{ bytes: foreignBytes, urls: [`${foreignUrl}/wrong.tar.gz`] }],
    });
    await pushImage(registry.url, "windows/bad", "1", badForeign);
    for (const name of ["team/a", "team/b", "team/c", "other/x"]) {
      await pushImage(registry.url, name, "latest", makeImage());
    }
  });

  afterAll(async () => {
    await proxy?.stop();
    await closeServer(foreignServer);
    await registry?.stop();
    await removeTempDirs();
  });

  it("saves a single-platform image: the tag's digest is the sha256 of the bytes received", () =>
    withSession(async (session, dir) => {
      const output = join(dir, "one.zip");
      const { report } = await saveRefs(session, {
        refs: [`${registry.host}/apps/single:1.0`],
        output,
      });
      expect(report.images[0]).toMatchObject({
        ref: `${registry.host}/apps/single:1.0`,
        digest: single.digest,
        platforms: ["linux/amd64"],
        source: `docker://${registry.host}/apps/single:1.0`,
      });
      const { blobs } = await unzipAndCheck(output);
      for (const digest of [single.digest, ...single.blobs.keys()])
        expect(blobs.has(digest)).toBe(true);
      expect(session.stats.blobsDownloaded).toBe(3);
    }));

  it("a second save with the same cache downloads nothing", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const first = await testSession(cache);
    await saveRefs(first, {
      refs: [`${registry.host}/apps/single:1.0`],
      output: join(dir, "a.zip"),
    });
    await first.close();
    const second = await testSession(cache);
    try {
      await saveRefs(second, {
        refs: [`${registry.host}/apps/single:1.0`],
        output: join(dir, "b.zip"),
      });
      expect(second.stats.blobsDownloaded).toBe(0);
      expect(second.stats.bytesDownloaded).toBe(0);
      expect(second.stats.blobsFromCache).toBe(3);
      await unzipAndCheck(join(dir, "b.zip"));
    } finally {
      await second.close();
    }
  });

  it("picks this machine's kind of platform from an index, and the newest Windows build for a prefix", () =>
    withSession(async (session, dir) => {
      const linux = await saveRefs(session, {
        refs: [`${registry.host}/apps/multi:2.0`],
        output: join(dir, "l.zip"),
      });
      const amd64 = multi.children[0] as TestImage;
      expect(linux.report.images[0]?.digest).toBe(amd64.digest);
      const { ferry } = await unzipAndCheck(join(dir, "l.zip"));
      expect(ferry.images[0]?.sourceIndexDigest).toBe(multi.digest);

      const win = await saveRefs(session, {
        refs: [`${registry.host}/apps/multi:2.0`],
        output: join(dir, "w.zip"),
        platforms: [{ os: "windows", architecture: "amd64", osVersion: "10.0.20348" }],
      });
      expect(win.report.images[0]?.digest).toBe(windows[2]?.digest);
      expect(win.report.images[0]?.platforms).toEqual(["windows/amd64:10.0.20348.2227"]);
    }));

  it("several platforms make a narrowed index naming exactly the carried children", () =>
    withSession(async (session, dir) => {
      const output = join(dir, "two.zip");
      const { report } = await saveRefs(session, {
        refs: [`${registry.host}/apps/multi:2.0`],
        output,
        platforms: [
          { os: "linux", architecture: "arm64" },
          { os: "windows", architecture: "amd64", osVersion: "10.0.17763" },
        ],
      });
      const { dir: unzipped, ferry } = await unzipAndCheck(output);
      const { readFile } = await import("node:fs/promises");
      const index = JSON.parse(
        await readFile(
          join(unzipped, "blobs", "sha256", report.images[0]?.digest.slice(7) ?? ""),
          "utf8",
        ),
      );
      expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([
        multi.children[1]?.digest,
        windows[0]?.digest,
      ]);
      expect(ferry.images[0]?.sourceIndexDigest).toBe(multi.digest);
    }));

  it("a missing platform fails listing what the index offers", () =>
    withSession(async (session, dir) => {
      const error = await saveRefs(session, {
        refs: [`${registry.host}/apps/multi:2.0`],
        output: join(dir, "x.zip"),
        platforms: [{ os: "linux", architecture: "s390x" }],
      }).catch((e: unknown) => e);
      expect(isFerryError(error) && error.code).toBe("ENOTFOUND");
      expect(String((error as Error).message)).toMatch(
        /no manifest for linux\/s390x; it offers linux\/amd64, linux\/arm64\/v8, windows\/amd64:10\.0\.17763\.5000/,
      );
      await expect(stat(join(dir, "x.zip"))).rejects.toThrow();
    }));

  it("saves by digest, and by tag plus digest", () =>
    withSession(async (session, dir) => {
      const { report } = await saveRefs(session, {
        refs: [`${registry.host}/apps/single@${single.digest}`],
        output: join(dir, "d.zip"),
      });
      expect(report.images[0]?.digest).toBe(single.digest);
      const both = await saveRefs(session, {
        refs: [`${registry.host}/apps/single:1.0@${single.digest}`],
        output: join(dir, "td.zip"),
      });
      expect(both.report.images[0]?.ref).toBe(`${registry.host}/apps/single:1.0@${single.digest}`);
    }));

  it("an unknown tag or repository fails with ENOTFOUND naming it", () =>
    withSession(async (session, dir) => {
      const error = await saveRefs(session, {
        refs: [`${registry.host}/apps/single:nope`],
        output: join(dir, "n.zip"),
      }).catch((e: unknown) => e);
      expect(isFerryError(error) && error.code).toBe("ENOTFOUND");
      expect((error as Error).message).toContain(`manifest of ${registry.host}/apps/single:nope`);
      expect((error as Error).message).toContain("MANIFEST_UNKNOWN");
    }));

  it("refuses a schema 1 manifest with a clear message", async () => {
    proxy.add({
      match: /\/manifests\/old$/,
      fault: {
        kind: "status",
        status: 200,
        headers: { "Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws" },
        body: JSON.stringify({ schemaVersion: 1, name: "apps/single", tag: "old", fsLayers: [] }),
      },
    });
    const dir = await tempDir();
    const session = await testSession(join(dir, "cache"));
    try {
      const error = await saveRefs(session, {
        refs: [`${proxy.host}/apps/single:old`],
        output: join(dir, "s.zip"),
      }).catch((e: unknown) => e);
      expect(isFerryError(error) && error.code).toBe("EUNSUPPORTED");
      expect((error as Error).message).toMatch(/schema 1 manifests are not supported/);
    } finally {
      await session.close();
      proxy.clear();
    }
  });

  it("refuses manifest bytes that differ from the registry's Docker-Content-Digest", async () => {
    const other = makeImage();
    proxy.add({
      match: /\/manifests\/1\.0$/,
      fault: {
        kind: "status",
        status: 200,
        headers: { "Content-Type": other.mediaType, "Docker-Content-Digest": single.digest },
        body: other.bytes.toString(),
      },
    });
    const dir = await tempDir();
    const session = await testSession(join(dir, "cache"));
    try {
      const error = await saveRefs(session, {
        refs: [`${proxy.host}/apps/single:1.0`],
        output: join(dir, "m.zip"),
      }).catch((e: unknown) => e);
      expect(isFerryError(error) && error.code).toBe("EINTEGRITY");
      expect((error as Error).message).toContain(`manifest of ${proxy.host}/apps/single:1.0`);
    } finally {
      await session.close();
      proxy.clear();
    }
  });

  it("fetches a foreign layer from its URL, verifies it and carries it", () =>
    withSession(async (session, dir) => {
      const output = join(dir, "legacy.zip");
      const before = foreignHits;
      await saveRefs(session, {
        refs: [`${registry.host}/windows/legacy:ltsc2019`],
        output,
        platforms: [{ os: "windows", architecture: "amd64" }],
      });
      expect(foreignHits).toBe(before + 1);
      const { blobs, ferry } = await unzipAndCheck(output);
      expect(blobs.get(sha256(foreignBytes))).toBe(foreignBytes.length);
      expect(ferry.requires).toEqual([]);
    }));

  it("--skip-foreign leaves foreign layers out and lists them as required", () =>
    withSession(async (session, dir) => {
      const output = join(dir, "skip.zip");
      const before = foreignHits;
      const { sources } = await saveRefs(session, {
        refs: [`${registry.host}/windows/legacy:ltsc2019`],
        output,
        platforms: [{ os: "windows", architecture: "amd64" }],
        skipForeign: true,
      });
      expect(foreignHits).toBe(before);
      expect(sources[0]?.omitted.map((d) => d.digest)).toEqual([sha256(foreignBytes)]);
      const { blobs, ferry } = await unzipAndCheck(output);
      expect(blobs.has(sha256(foreignBytes))).toBe(false);
      expect(ferry.requires).toEqual([
        { digest: sha256(foreignBytes), size: foreignBytes.length, mediaType: DOCKER_FOREIGN },
      ]);
    }));

  it("a foreign URL serving wrong bytes fails naming the blob; nothing reaches the cache", async () => {
    const dir = await tempDir();
    const cache = join(dir, "cache");
    const session = await testSession(cache);
    try {
      const output = join(dir, "bad.zip");
      const error = await saveRefs(session, {
        refs: [`${registry.host}/windows/bad:1`],
        output,
        platforms: [{ os: "windows", architecture: "amd64" }],
      }).catch((e: unknown) => e);
      expect(isFerryError(error)).toBe(true);
      expect((error as Error).message).toContain(sha256(foreignBytes));
      expect((error as Error).message).toContain(`${foreignUrl}/wrong.tar.gz`);
      await expect(stat(output)).rejects.toThrow();
      expect(await cachedDigests(cache)).not.toContain(sha256(foreignBytes));
    } finally {
      await session.close();
    }
  });

  it("pulls into the store; a second pull finds everything there and downloads nothing", async () => {
    const dir = await tempDir();
    const storeDir = join(dir, "store");
    const session = await testSession(join(dir, "cache"));
    try {
      const first = await pullImages(
        [`${registry.host}/apps/single:1.0`, `${registry.host}/apps/multi:2.0`],
        {
          storeDir,
          platforms: [{ os: "linux", architecture: "amd64" }],
          session,
        },
      );
      expect(first.images.map((i) => i.status)).toEqual(["new", "new"]);
      expect(first.images[1]?.digest).toBe(multi.children[0]?.digest);
      const index = JSON.parse(
        await (await import("node:fs/promises")).readFile(join(storeDir, "index.json"), "utf8"),
      );
      expect(
        index.manifests.map(
          (m: { annotations: Record<string, string> }) =>
            m.annotations["org.opencontainers.image.ref.name"],
        ),
      ).toEqual(
        expect.arrayContaining([
          `${registry.host}/apps/single:1.0`,
          `${registry.host}/apps/multi:2.0`,
        ]),
      );
    } finally {
      await session.close();
    }
    const again = await testSession(join(dir, "cache2"));
    try {
      const second = await pullImages([`${registry.host}/apps/single:1.0`], {
        storeDir,
        platforms: [{ os: "linux", architecture: "amd64" }],
        session: again,
      });
      expect(second.images[0]?.status).toBe("unchanged");
      expect(second.blobsWritten).toBe(0);
      // Only the config is read (planning needs it); layers the store has are never fetched.
      expect(again.stats.blobsDownloaded).toBe(1);
    } finally {
      await again.close();
    }
  });

  it("lists tags, following Link pagination", async () => {
    const options = {
      credentials: credentialLookup({
        useDockerConfig: false,
        authFile: "/nonexistent/auth.json",
      }),
    };
    const plain = await listTags(`${registry.host}/apps/single`, options);
    expect(plain.tags).toEqual(["1.0"]);
    proxy.add({
      match: /\/v2\/paged\/tags\/list\?n=/,
      fault: {
        kind: "respond",
        handler: (_req, res) => {
          res.writeHead(200, {
            "Content-Type": "application/json",
            Link: '</v2/paged/tags/list?last=b&n=2>; rel="next"',
          });
          res.end(JSON.stringify({ name: "paged", tags: ["a", "b"] }));
        },
      },
    });
    proxy.add({
      match: /\/v2\/paged\/tags\/list\?last=b/,
      fault: {
        kind: "respond",
        handler: (_req, res) => {
          res.writeHead(200, { "Content-Type": "application/json" });
          res.end(JSON.stringify({ name: "paged", tags: ["c", "10", "9"] }));
        },
      },
    });
    try {
      const paged = await listTags(`${proxy.host}/paged`, options);
      expect(paged.tags).toEqual(["9", "10", "a", "b", "c"]);
    } finally {
      proxy.clear();
    }
  });

  it("searches the catalog with pagination and a prefix", async () => {
    const options = {
      credentials: credentialLookup({
        useDockerConfig: false,
        authFile: "/nonexistent/auth.json",
      }),
    };
    const all = await searchCatalog(registry.host, options, { pageSize: 2 });
    expect(all.repositories).toEqual(
      expect.arrayContaining([
        "apps/multi",
        "apps/single",
        "team/a",
        "team/b",
        "team/c",
        "other/x",
      ]),
    );
    const team = await searchCatalog(`${proxy.host}/team/`, options, { pageSize: 2 });
    expect(team.repositories).toEqual(["team/a", "team/b", "team/c"]);
    expect(proxy.requests.filter((r) => r.path === "/v2/_catalog").length).toBeGreaterThan(2);
    const limited = await searchCatalog(`${registry.host}/team`, options, {
      pageSize: 2,
      limit: 2,
    });
    expect(limited).toMatchObject({ repositories: ["team/a", "team/b"], truncated: true });
    proxy.clear();
  });
});
