/**
 * The push half of the registry client: chunked and monolithic uploads against the real
 * `distribution` registry (also through a proxy that cuts an upload mid-body), and against a
 * small in-process registry that reports upload progress (GET on the upload URL), so the
 * resume-at-offset and 416 paths run too. Pure parts: the name mapping and the
 * --strip-foreign-urls rewrite.
 */

import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describePush } from "../../../src/cli/commands/push.js";
import { VerifyingStream } from "../../../src/digest/verifying-stream.js";
import type { ImagePlan } from "../../../src/engine/plan.js";
import { isFerryError } from "../../../src/errors.js";
import {
  checkUniqueTargets,
  mapToRegistry,
  parseDestination,
} from "../../../src/ops/name-mapping.js";
import { stripForeignUrls } from "../../../src/ops/push/strip-foreign.js";
import type { RegistryClient } from "../../../src/transports/registry/client.js";
import { credentialLookup } from "../../../src/transports/registry/credentials.js";
import { blobExists } from "../../../src/transports/registry/push-checks.js";
import { openClient } from "../../../src/transports/registry/session.js";
import { type UploadOutcome, uploadBlob } from "../../../src/transports/registry/upload.js";
import { parseUploadRange } from "../../../src/transports/registry/upload-session.js";
import type { Descriptor } from "../../../src/types/descriptor.js";
import { formatReference } from "../../../src/types/reference.js";
import { parseRegistryTarget } from "../../../src/types/registry-target.js";
import { forwardRequest } from "../../helpers/forward.js";
import { closeServer, listenOnLoopback } from "../../helpers/loopback.js";
import { type RunningRegistry, startRegistry } from "../../helpers/registry.js";
import { removeTempDirs, tempDir } from "./fixtures.js";

const MiB = 1024 * 1024;

function descriptorOf(bytes: Buffer): Descriptor {
  return {
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    size: bytes.length,
  };
}

/** What the copy engine hands a sink: the bytes through a verifying stream. */
function verified(bytes: Buffer, descriptor = descriptorOf(bytes)): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 256 * 1024) parts.push(bytes.subarray(i, i + 256 * 1024));
  const verifier = new VerifyingStream(descriptor, "test blob");
  // As the copy engine does: the verdict reaches the reader through its reads.
  verifier.on("error", () => {});
  return Readable.from(parts).pipe(verifier);
}

async function client(host: string): Promise<RegistryClient> {
  const dir = await tempDir();
  return openClient(host, {
    credentials: credentialLookup({ authFile: `${dir}/none.json`, useDockerConfig: false }),
    retry: { retries: 4, baseDelayMs: 10, maxDelayMs: 50 },
    stallTimeoutMs: 5_000,
  });
}

async function upload(
  c: RegistryClient,
  repository: string,
  bytes: Buffer,
  options: { chunk?: number; stream?: Readable; reopened?: { count: number } } = {},
): Promise<UploadOutcome> {
  const descriptor = descriptorOf(bytes);
  return uploadBlob({
    client: c,
    repository,
    descriptor,
    stream: options.stream ?? verified(bytes),
    reopen: async () => {
      if (options.reopened) options.reopened.count++;
      return verified(bytes);
    },
    what: `blob ${descriptor.digest}`,
    tuning: { chunkSize: options.chunk ?? MiB, monolithicMax: Math.min(options.chunk ?? MiB, MiB) },
  });
}

async function getBlob(url: string, repository: string, digest: string): Promise<Buffer> {
  const response = await fetch(`${url}/v2/${repository}/blobs/${digest}`);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/**
 * A proxy that forwards everything, except that it cuts the `cutOn`-th PATCH after
 * forwarding `afterBytes` of its body (the registry keeps what it got, the client sees a reset).
 */
async function startCutter(target: string, cut: { nth: number; afterBytes: number }) {
  const upstream = new URL(target);
  const log: string[] = [];
  let patches = 0;
  const server = http.createServer((request, response) => {
    log.push(`${request.method} ${(request.url ?? "").split("?")[0]}`);
    const forward = forwardRequest(upstream, request, response);
    const isCut = request.method === "PATCH" && ++patches === cut.nth;
    if (!isCut) {
      request.pipe(forward);
      return;
    }
    let sent = 0;
    request.on("data", (chunk: Buffer) => {
      if (sent >= cut.afterBytes) return;
      const part = chunk.subarray(0, cut.afterBytes - sent);
      sent += part.length;
      if (sent < cut.afterBytes) {
        forward.write(part);
        return;
      }
      request.pause();
      // Cut once the bytes are handed to the registry's connection (they travel ahead of the
      // close), not after a pause that a busy machine may outlast.
      forward.write(part, () => {
        forward.destroy();
        request.socket.resetAndDestroy();
      });
    });
  });
  const port = await listenOnLoopback(server);
  return {
    host: `127.0.0.1:${port}`,
    log,
    stop: () => closeServer(server),
  };
}

describe("name mapping (docs/offline-registry.md)", () => {
  it("drops the source host, keeps the path under the prefix, keeps the tag", () => {
    const target = parseRegistryTarget("registry.lan:5000/mirror");
    expect(target).toEqual({ registry: "registry.lan:5000", prefix: "mirror" });
    const map = (name: string) => formatReference(mapToRegistry(name, target));
    expect(map("mcr.microsoft.com/windows/nanoserver:ltsc2022")).toBe(
      "registry.lan:5000/mirror/windows/nanoserver:ltsc2022",
    );
    expect(map("docker.io/library/alpine:3.19")).toBe(
      "registry.lan:5000/mirror/library/alpine:3.19",
    );
    expect(map("os.ferry.invalid/nanoserver:10.0.14300.1010")).toBe(
      "registry.lan:5000/mirror/nanoserver:10.0.14300.1010",
    );
    const digest = `sha256:${"a".repeat(64)}`;
    expect(map(`quay.io/team/app@${digest}`)).toBe(`registry.lan:5000/mirror/team/app@${digest}`);
    expect(
      formatReference(mapToRegistry("ghcr.io/a/b:1", parseRegistryTarget("docker://localhost/"))),
    ).toBe("localhost/a/b:1");
  });

  it("refuses a host docker would read as a Docker Hub name, and bad prefixes", () => {
    expect(() => parseRegistryTarget("registry/mirror")).toThrow(/does not look like a registry/);
    expect(() => parseRegistryTarget("registry.lan/Mirror")).toThrow(/lower/);
    expect(() => parseRegistryTarget("")).toThrow();
  });

  it("push destinations: a full reference; no tag means the source's tag", () => {
    expect(formatReference(parseDestination("reg.lan:5000/x/y", "docker.io/library/a:7"))).toBe(
      "reg.lan:5000/x/y:7",
    );
    expect(formatReference(parseDestination("reg.lan:5000/x/y:2", "docker.io/library/a:7"))).toBe(
      "reg.lan:5000/x/y:2",
    );
    expect(() => parseDestination(`reg.lan/x@sha256:${"b".repeat(64)}`, "a:1")).toThrow(/digest/);
  });

  it("refuses two images for one target name", () => {
    const target = parseRegistryTarget("reg.lan:5000");
    const items = ["docker.io/team/app:1", "quay.io/team/app:1"].map((name, i) => ({
      name,
      target: mapToRegistry(name, target),
      digest: `sha256:${String(i).repeat(64)}`,
    }));
    expect(() => checkUniqueTargets(items)).toThrow(/would both be pushed as reg.lan:5000\/team/);
  });
});

describe("--strip-foreign-urls rewrite", () => {
  it("makes foreign layers plain, drops urls, and rewrites the index naming a changed child", () => {
    const layer = {
      mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      digest: `sha256:${"1".repeat(64)}`,
      size: 10,
      urls: ["https://example.invalid/layer"],
    };
    const plain = {
      mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
      digest: `sha256:${"2".repeat(64)}`,
      size: 20,
    };
    const config = {
      mediaType: "application/vnd.docker.container.image.v1+json",
      digest: `sha256:${"3".repeat(64)}`,
      size: 30,
    };
    const manifestBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config,
        layers: [layer, plain],
      }),
    );
    const manifest = {
      ...descriptorOf(manifestBytes),
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    };
    const other = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [plain] }));
    const otherDescriptor = { ...descriptorOf(other), mediaType: manifest.mediaType };
    const indexBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
        manifests: [
          { ...manifest, platform: { os: "windows", architecture: "amd64" } },
          { ...otherDescriptor, platform: { os: "linux", architecture: "amd64" } },
        ],
      }),
    );
    const index = {
      ...descriptorOf(indexBytes),
      mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
    };
    const plan = {
      name: "mcr.microsoft.com/windows/servercore:ltsc2016",
      root: index,
      manifests: [
        { descriptor: manifest, bytes: manifestBytes },
        { descriptor: otherDescriptor, bytes: other },
        { descriptor: index, bytes: indexBytes },
      ],
      blobs: [],
    } as unknown as ImagePlan;
    const { plan: stripped, rewritten } = stripForeignUrls(plan);
    expect(rewritten.map((r) => r.from)).toEqual([manifest.digest, index.digest]);
    expect(rewritten[0]?.layers).toBe(1);
    const newManifest = JSON.parse(stripped.manifests[0]?.bytes.toString() ?? "");
    expect(newManifest.layers[0]).toEqual({
      mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
      digest: layer.digest,
      size: 10,
    });
    expect(stripped.manifests[1]?.bytes).toBe(other);
    const newIndex = JSON.parse(stripped.manifests[2]?.bytes.toString() ?? "");
    expect(newIndex.manifests[0].digest).toBe(rewritten[0]?.to);
    expect(newIndex.manifests[0].platform).toEqual({ os: "windows", architecture: "amd64" });
    expect(newIndex.manifests[1].digest).toBe(otherDescriptor.digest);
    expect(stripped.root.digest).toBe(rewritten[1]?.to);
    expect(stripped.root.digest).toBe(descriptorOf(stripped.manifests[2]?.bytes as Buffer).digest);
  });

  it("the summary names each rewrite, old -> new", () => {
    const text = describePush({
      registry: "reg.lan:5000",
      from: "bundle:b.zip",
      dryRun: false,
      images: [],
      blobs: { uploaded: 1, skipped: 2, mounted: 3 },
      bytes: { uploaded: 1000, skipped: 0, mounted: 0 },
      manifestsPushed: 2,
      rewritten: [
        { image: "a:1", mediaType: "m", from: "sha256:old", to: "sha256:new", layers: 2 },
        { image: "a:1", mediaType: "i", from: "sha256:oldi", to: "sha256:newi", layers: 0 },
      ],
      omitted: [],
      uploads: { resumed: 1, restarted: 0, chunks: 4 },
      seconds: 1,
    });
    expect(text).toContain("a:1: sha256:old -> sha256:new (2 layer(s))");
    expect(text).toContain("a:1: sha256:oldi -> sha256:newi (index)");
    expect(text).toMatch(/1 blobs uploaded \(1.00kB\), 3 mounted .* 2 already there/);
    expect(text).toMatch(/1 upload\(s\) resumed, 0 started over/);
  });

  it("reads upload Range headers (0-N, bytes=0-N)", () => {
    expect(parseUploadRange("0-1023")).toBe(1024);
    expect(parseUploadRange("bytes=0-9")).toBe(10);
    expect(parseUploadRange("5-9")).toBeUndefined();
    expect(parseUploadRange(undefined)).toBeUndefined();
  });
});

describe("uploads into the real registry", () => {
  let registry: RunningRegistry;

  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
    await removeTempDirs();
  });

  it("uploads a large blob in PATCH chunks and a small one in one PUT", async () => {
    const c = await client(registry.host);
    const big = randomBytes(5 * MiB + 123);
    const outcome = await upload(c, "chunks/app", big);
    expect(outcome).toMatchObject({ chunks: 6, restarts: 0, resumes: 0, bytesSent: big.length });
    expect((await getBlob(registry.url, "chunks/app", descriptorOf(big).digest)).equals(big)).toBe(
      true,
    );
    const small = randomBytes(1000);
    expect((await upload(c, "chunks/app", small)).chunks).toBe(1);
    expect(await blobExists(c, "chunks/app", descriptorOf(small).digest, "small")).toBe(true);
    c.close();
  });

  it("a PATCH cut mid-body: distribution drops the session, the blob starts over and lands", async () => {
    const cutter = await startCutter(registry.url, { nth: 3, afterBytes: 300_000 });
    try {
      const c = await client(cutter.host);
      const big = randomBytes(4 * MiB);
      const reopened = { count: 0 };
      const outcome = await upload(c, "cut/app", big, { reopened });
      expect(outcome.restarts).toBe(1);
      expect(reopened.count).toBe(1);
      expect(cutter.log.filter((l) => l.startsWith("GET /v2/cut/app/blobs/uploads/")).length).toBe(
        1,
      );
      const stored = await getBlob(registry.url, "cut/app", descriptorOf(big).digest);
      expect(stored.equals(big)).toBe(true);
      c.close();
    } finally {
      await cutter.stop();
    }
  });

  it("bytes that fail verification never complete: no blob, the session is cancelled", async () => {
    const watcher = await startCutter(registry.url, { nth: -1, afterBytes: 0 });
    const c = await client(watcher.host);
    const big = randomBytes(10 * MiB);
    const claimed = descriptorOf(randomBytes(10 * MiB));
    const error = await uploadBlob({
      client: c,
      repository: "bad/app",
      descriptor: claimed,
      stream: verified(big, claimed),
      reopen: async () => verified(big, claimed),
      what: "bad blob",
      tuning: { chunkSize: MiB, monolithicMax: MiB },
    }).catch((e: unknown) => e);
    expect(isFerryError(error) && error.code).toBe("EINTEGRITY");
    expect(await blobExists(c, "bad/app", claimed.digest, "bad")).toBe(false);
    expect(await blobExists(c, "bad/app", descriptorOf(big).digest, "bad")).toBe(false);
    // Bytes went up before the verdict (which comes with the last byte), but none completed.
    expect(watcher.log.filter((l) => l.startsWith("PATCH")).length).toBeGreaterThan(1);
    expect(watcher.log.filter((l) => l.startsWith("PUT"))).toEqual([]);
    expect(
      watcher.log.filter((l) => l.startsWith("DELETE /v2/bad/app/blobs/uploads/")).length,
    ).toBe(1);
    c.close();
    await watcher.stop();
  });
});

/**
 * A registry that keeps partial uploads and says how far they got (GET -> 204 + Range), as
 * zot, Quay and others do; it can cut a PATCH after N bytes (keeping them) and refuse the
 * first PATCH of a chunk with 416.
 */
async function startProgressRegistry() {
  const uploads = new Map<string, Buffer>();
  const blobs = new Map<string, Buffer>();
  const log: string[] = [];
  const faults = {
    cutAtTotal: -1,
    refuseOnce416AtOffset: -1,
    /** Cut every PATCH after this many of its bytes (keeping them). */
    cutEveryAfter: -1,
    /** Keep a wrong byte where the next cut happens. */
    damageOnCut: false,
  };
  let ids = 0;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://x");
    const method = request.method ?? "GET";
    log.push(`${method} ${url.pathname}`);
    const upload = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(url.pathname);
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const range = (id: string) => {
      const have = uploads.get(id)?.length ?? 0;
      return { Range: `0-${Math.max(0, have - 1)}`, Location: `/v2/x/blobs/uploads/${id}` };
    };
    if (url.pathname === "/v2/") return void response.writeHead(200).end("{}");
    if (blob && method === "HEAD") {
      return void response.writeHead(blobs.has(blob[2] as string) ? 200 : 404).end();
    }
    if (upload && method === "POST") {
      const id = String(++ids);
      uploads.set(id, Buffer.alloc(0));
      return void response.writeHead(202, range(id)).end();
    }
    const id = upload?.[2] ?? "";
    const current = uploads.get(id);
    if (!upload || current === undefined) return void response.writeHead(404).end();
    if (method === "GET") return void response.writeHead(204, range(id)).end();
    if (method === "DELETE") {
      uploads.delete(id);
      return void response.writeHead(204).end();
    }
    if (method === "PATCH") {
      const start = Number((request.headers["content-range"] ?? "").split("-")[0]);
      if (start === faults.refuseOnce416AtOffset) {
        faults.refuseOnce416AtOffset = -1;
        request.resume();
        return void response.writeHead(416, range(id)).end();
      }
      if (start !== current.length) {
        request.resume();
        return void response.writeHead(416, range(id)).end();
      }
      let taken = 0;
      request.on("data", (chunk: Buffer) => {
        let data = chunk;
        const total = (uploads.get(id) as Buffer).length;
        if (faults.cutEveryAfter >= 0 && taken + data.length >= faults.cutEveryAfter) {
          data = data.subarray(0, faults.cutEveryAfter - taken);
          uploads.set(id, Buffer.concat([uploads.get(id) as Buffer, data]));
          request.socket.resetAndDestroy();
          return;
        }
        taken += data.length;
        if (faults.cutAtTotal >= 0 && total + data.length >= faults.cutAtTotal) {
          data = Buffer.from(data.subarray(0, faults.cutAtTotal - total));
          if (faults.damageOnCut && data.length > 0) {
            faults.damageOnCut = false;
            data[0] = (data[0] ?? 0) ^ 0xff;
          }
          uploads.set(id, Buffer.concat([uploads.get(id) as Buffer, data]));
          faults.cutAtTotal = -1;
          request.socket.resetAndDestroy();
          return;
        }
        uploads.set(id, Buffer.concat([uploads.get(id) as Buffer, data]));
      });
      request.on("end", () => response.writeHead(202, range(id)).end());
      return;
    }
    if (method === "PUT") {
      request.resume();
      request.on("end", () => {
        const digest = url.searchParams.get("digest") ?? "";
        const found = descriptorOf(current).digest;
        if (found !== digest) {
          return void response
            .writeHead(400, { "Content-Type": "application/json" })
            .end('{"errors":[{"code":"DIGEST_INVALID","message":"digest did not match"}]}');
        }
        blobs.set(digest, current);
        uploads.delete(id);
        response.writeHead(201).end();
      });
      return;
    }
    response.writeHead(405).end();
  });
  const port = await listenOnLoopback(server);
  return {
    host: `127.0.0.1:${port}`,
    blobs,
    log,
    faults,
    stop: () => closeServer(server),
  };
}

describe("uploads into a registry that reports upload progress", () => {
  let fake: Awaited<ReturnType<typeof startProgressRegistry>>;
  beforeAll(async () => {
    fake = await startProgressRegistry();
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it("after a cut, asks where the upload stands and resumes there (reading the rest again)", async () => {
    const c = await client(fake.host);
    const big = randomBytes(3 * MiB + 77);
    fake.faults.cutAtTotal = MiB + 5000;
    const reopened = { count: 0 };
    const outcome = await upload(c, "resume/app", big, { reopened });
    expect(outcome).toMatchObject({ resumes: 1, restarts: 0 });
    expect(reopened.count).toBe(1);
    expect(fake.blobs.get(descriptorOf(big).digest)?.equals(big)).toBe(true);
    expect(fake.log.filter((l) => l.startsWith("POST")).length).toBe(1);
    c.close();
  });

  it("a resumed upload the registry then refuses (bad bytes kept at the cut) goes once more from 0", async () => {
    const c = await client(fake.host);
    const big = randomBytes(3 * MiB);
    fake.faults.cutAtTotal = MiB + 100;
    fake.faults.damageOnCut = true;
    const outcome = await upload(c, "damaged/app", big);
    expect(outcome).toMatchObject({ resumes: 1, restarts: 1 });
    expect(fake.blobs.get(descriptorOf(big).digest)?.equals(big)).toBe(true);
    c.close();
  });

  it("a link that keeps cutting without progress gives up, and cancels the session", async () => {
    const c = await client(fake.host);
    fake.faults.cutEveryAfter = 50_000;
    fake.log.length = 0;
    try {
      const error = await upload(c, "flaky/app", randomBytes(2 * MiB)).catch((e: unknown) => e);
      expect(isFerryError(error) && error.code).toBe("ENETWORK");
      expect(String((error as Error).message)).toMatch(/gave up after \d+ attempts/);
      expect(fake.log.filter((l) => l.startsWith("DELETE")).length).toBe(1);
    } finally {
      fake.faults.cutEveryAfter = -1;
      c.close();
    }
  });

  it("a 416 means: ask the registry, then go on from its offset", async () => {
    const c = await client(fake.host);
    const big = randomBytes(3 * MiB);
    fake.faults.refuseOnce416AtOffset = MiB;
    const outcome = await upload(c, "range/app", big);
    expect(outcome).toMatchObject({ resumes: 1, restarts: 0, chunks: 3 });
    expect(fake.blobs.get(descriptorOf(big).digest)?.equals(big)).toBe(true);
    c.close();
  });
});
