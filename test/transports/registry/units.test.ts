import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { BlobCache } from "../../../src/cache/blob-cache.js";
import { parseDuration } from "../../../src/ops/registry-cache.js";
import { explicitCredentials } from "../../../src/ops/registry-options.js";
import { parseSearchTarget } from "../../../src/ops/registry-search.js";
import { credentialLookup } from "../../../src/transports/registry/credentials.js";
import { findAuthEntry, normalizeAuthKey } from "../../../src/transports/registry/docker-config.js";
import {
  allowsPlainHttp,
  apiHost,
  isLoopbackHost,
} from "../../../src/transports/registry/endpoint.js";
import { nextPageUrl } from "../../../src/transports/registry/link-header.js";
import { displayUrl } from "../../../src/transports/registry/redact.js";
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
} from "../../../src/transports/registry/retry.js";
import { TaskQueue } from "../../../src/transports/registry/task-queue.js";
import {
  parseWwwAuthenticate,
  pickChallenge,
} from "../../../src/transports/registry/www-authenticate.js";
import { removeTempDirs, tempDir } from "./fixtures.js";

afterAll(removeTempDirs);

describe("WWW-Authenticate", () => {
  it("parses Docker Hub's bearer challenge", () => {
    const [c] = parseWwwAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
    );
    expect(c).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/alpine:pull",
      },
    });
  });

  it("parses several challenges, escapes and insufficient_scope errors", () => {
    const all = parseWwwAuthenticate(
      'Basic realm="a \\"b\\"", Bearer realm="https://t/x",error="insufficient_scope",scope="repository:a:pull repository:b:pull"',
    );
    expect(all.map((c) => c.scheme)).toEqual(["basic", "bearer"]);
    expect(all[0]?.params.realm).toBe('a "b"');
    expect(all[1]?.params.error).toBe("insufficient_scope");
    expect(pickChallenge(all)?.scheme).toBe("bearer");
  });
});

describe("small protocol pieces", () => {
  it("follows Link rel=next on the same host only", () => {
    const base = new URL("http://127.0.0.1:5000/v2/_catalog?n=2");
    expect(nextPageUrl('</v2/_catalog?last=b&n=2>; rel="next"', base)).toBe(
      "http://127.0.0.1:5000/v2/_catalog?last=b&n=2",
    );
    expect(nextPageUrl('<http://evil.example/v2/_catalog>; rel="next"', base)).toBeUndefined();
    expect(nextPageUrl('</x>; rel="prev"', base)).toBeUndefined();
  });

  it("reads Retry-After as seconds or a date; backoff grows with jitter and honours it", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100 };
    expect(backoffDelay(0, policy, undefined, () => 0)).toBe(50);
    expect(backoffDelay(3, policy, undefined, () => 1)).toBe(800);
    expect(backoffDelay(0, policy, 2000, () => 0.5)).toBe(2000);
  });

  it("shows URLs without query strings or user info", () => {
    expect(displayUrl("https://user:pw@s3.example/bucket/blob?X-Amz-Signature=secret")).toBe(
      "https://s3.example/bucket/blob",
    );
  });

  it("maps hosts: Docker Hub, loopback, insecure", () => {
    expect(apiHost("docker.io")).toBe("registry-1.docker.io");
    expect(isLoopbackHost("127.0.0.1:5000")).toBe(true);
    expect(isLoopbackHost("localhost")).toBe(true);
    expect(isLoopbackHost("[::1]:5000")).toBe(true);
    expect(isLoopbackHost("10.0.0.1:5000")).toBe(false);
    const policy = { insecureRegistries: ["reg.lan"], caCertificates: [], certsDir: "/none" };
    expect(allowsPlainHttp("reg.lan:5000", policy)).toBe(true);
    expect(allowsPlainHttp("registry.example.com", policy)).toBe(false);
  });

  it("parses search targets and durations", () => {
    expect(parseSearchTarget("reg.lan:5000/team/")).toEqual({
      registry: "reg.lan:5000",
      prefix: "team/",
    });
    expect(() => parseSearchTarget("docker.io/library")).toThrow(
      /Docker Hub does not offer a catalog/,
    );
    expect(() => parseSearchTarget("library")).toThrow(/registry host/);
    expect(parseDuration("7d")).toBe(7 * 86_400_000);
    expect(parseDuration("0")).toBe(0);
    expect(() => parseDuration("soon")).toThrow();
  });

  it("runs each key once, at most N at a time, urgent ones first", async () => {
    const queue = new TaskQueue<string>(1);
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = queue.run("a", async () => {
      await gate;
      order.push("a");
      return "a";
    });
    const b = queue.run("b", async () => {
      order.push("b");
      return "b";
    });
    const c = queue.run(
      "c",
      async () => {
        order.push("c");
        return "c";
      },
      true,
    );
    expect(queue.run("b", async () => "again")).toBe(b);
    release();
    await Promise.all([first, b, c]);
    expect(order).toEqual(["a", "c", "b"]);
  });
});

describe("credentials", () => {
  it("reads --creds and --username with --password-stdin", async () => {
    expect(await explicitCredentials({ creds: "u:p:w" })).toEqual({
      username: "u",
      password: "p:w",
    });
    expect(
      await explicitCredentials({ username: "u", passwordStdin: true }, Readable.from(["pa ss\n"])),
    ).toEqual({
      username: "u",
      password: "pa ss",
    });
    await expect(explicitCredentials({ creds: "nocolon" })).rejects.toThrow(/USER:PASSWORD/);
    await expect(explicitCredentials({ username: "u" })).rejects.toThrow(/--password-stdin/);
  });

  it("finds docker config entries under every spelling docker uses", () => {
    const config = {
      auths: {
        "https://index.docker.io/v1/": { auth: "aHViOnB3" },
        "http://reg.lan:5000": { auth: "bGFuOnB3" },
      },
    };
    expect(findAuthEntry(config, "docker.io")?.key).toBe("https://index.docker.io/v1/");
    expect(findAuthEntry(config, "reg.lan:5000")?.key).toBe("http://reg.lan:5000");
    expect(normalizeAuthKey("https://registry-1.docker.io/v2/")).toBe("docker.io");
  });

  it("credHelpers win over auths for their registry; helper errors name the helper, never a secret", async () => {
    const dir = await tempDir();
    const bin = join(dir, "bin");
    await mkdir(bin);
    const helper = join(bin, "docker-credential-broken");
    await writeFile(helper, "#!/bin/sh\necho 'keychain locked' >&2\nexit 3\n");
    await chmod(helper, 0o755);
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({ credHelpers: { "reg.lan": "broken" } }),
    );
    const lookup = credentialLookup({
      env: { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` },
      authFile: "/nonexistent",
    });
    await expect(lookup.get("reg.lan")).rejects.toThrow(
      /docker-credential-broken failed to get: keychain locked/,
    );
    expect(await lookup.get("other.lan")).toBeUndefined();
  });
});

describe("download cache", () => {
  it("lists and prunes blobs and partials", async () => {
    const dir = await tempDir();
    const cache = await BlobCache.open(dir);
    const claim = await cache.claimPartial({ digest: `sha256:${"a".repeat(64)}`, size: 10 });
    await claim.file.append([Buffer.from("hello")]);
    await claim.release("keep");
    const listing = await cache.list();
    expect(listing.partials).toMatchObject([
      { digest: `sha256:${"a".repeat(64)}`, size: 5, busy: false },
    ]);
    const again = await cache.claimPartial({ digest: `sha256:${"a".repeat(64)}`, size: 10 });
    expect(again.file.length).toBe(5);
    await again.release("keep");
    expect(await cache.prune({ olderThanMs: 60_000 })).toEqual({ removed: 0, bytes: 0 });
    expect(await cache.prune({ all: true })).toEqual({ removed: 1, bytes: 5 });
  });
});
