/** Shared set-up for the registry tests: sessions with fast retries, saves, bundle checks. */

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";
import { BlobCache } from "../../../src/cache/blob-cache.js";
import { saveBundle } from "../../../src/ops/save.js";
import { credentialLookup } from "../../../src/transports/registry/credentials.js";
import {
  RegistrySession,
  type RegistrySessionOptions,
} from "../../../src/transports/registry/session.js";
import { RegistrySource } from "../../../src/transports/registry/source.js";
import type { BundleManifest } from "../../../src/types/bundle.js";
import type { PlatformSelector } from "../../../src/types/platform.js";
import { type FaultProxy, startFaultProxy } from "../../helpers/fault-proxy.js";
import { makeCertificate, type RunningRegistry, startRegistry } from "../../helpers/registry.js";

const run = promisify(execFile);

const dirs: string[] = [];

/** A temp folder removed by `removeTempDirs`. */
export async function tempDir(prefix = "ferry-reg-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
}

/**
 * For a describe block: the real registry with a fault-injecting proxy in front of it, started
 * before the block's tests (`fill` then pushes what they need into the registry at its URL) and
 * stopped, with the temp folders, after them. Read `registry` and `proxy` inside tests.
 */
export function withProxiedRegistry(fill: (registryUrl: string) => Promise<void>): {
  readonly registry: RunningRegistry;
  readonly proxy: FaultProxy;
} {
  const net = {} as { registry: RunningRegistry; proxy: FaultProxy };
  beforeAll(async () => {
    net.registry = await startRegistry();
    net.proxy = await startFaultProxy(net.registry.url);
    await fill(net.registry.url);
  });
  afterAll(async () => {
    await net.proxy?.stop();
    await net.registry?.stop();
    await removeTempDirs();
  });
  return net;
}

/**
 * For a describe block: the real registry over TLS, its certificate signed by a CA of the
 * test's own (`caFile`, PEM), started before the block's tests (`fill` then pushes what they
 * need) and stopped, with the temp folders, after them. `dir` is a temp folder for the tests.
 */
export function withTlsRegistry(
  fill: (registry: RunningRegistry) => Promise<void> = async () => {},
): {
  readonly registry: RunningRegistry;
  readonly dir: string;
  readonly caFile: string;
} {
  const tls = {} as { registry: RunningRegistry; dir: string; caFile: string };
  beforeAll(async () => {
    tls.dir = await tempDir();
    const cert = await makeCertificate(tls.dir, "registry");
    tls.caFile = cert.certificate;
    tls.registry = await startRegistry({ tls: cert });
    await fill(tls.registry);
  });
  afterAll(async () => {
    await tls.registry?.stop();
    await removeTempDirs();
  });
  return tls;
}

/** How blob bodies are read: ferry's raw HTTP client, or node:http (`FERRY_BLOB_HTTP=node`). */
export type BlobHttp = "raw" | "node";

/**
 * For a describe block: read blob bodies with `mode` during its tests (FERRY_BLOB_HTTP is read
 * per request), and put the variable back afterwards.
 */
export function blobBodiesOver(mode: BlobHttp): void {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.FERRY_BLOB_HTTP;
    if (mode === "node") process.env.FERRY_BLOB_HTTP = "node";
    else delete process.env.FERRY_BLOB_HTTP;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.FERRY_BLOB_HTTP;
    else process.env.FERRY_BLOB_HTTP = saved;
  });
}

/** A session with fast retries and no credentials unless given. */
export async function testSession(
  cacheDir: string,
  overrides: Partial<RegistrySessionOptions> = {},
): Promise<RegistrySession> {
  return RegistrySession.open({
    credentials: credentialLookup({
      authFile: join(cacheDir, "..", "no-auth.json"),
      useDockerConfig: false,
    }),
    cacheDir,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    stallTimeoutMs: 5_000,
    ...overrides,
  });
}

/** `use` a fresh test session whose cache is in a new temp folder `dir`; closed afterwards. */
export async function withSession<T>(
  use: (session: RegistrySession, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await tempDir();
  const session = await testSession(join(dir, "cache"));
  try {
    return await use(session, dir);
  } finally {
    await session.close();
  }
}

export interface SaveCall {
  refs: string[];
  output: string;
  platforms?: PlatformSelector;
  skipForeign?: boolean;
  jobs?: number;
}

/** Save registry images into a bundle, the way `ferry save` does (failures explained too). */
export async function saveRefs(session: RegistrySession, call: SaveCall) {
  const sources = call.refs.map(
    (ref) => new RegistrySource(session, ref, { skipForeign: call.skipForeign ?? false }),
  );
  try {
    const report = await saveBundle(
      sources.map((source) => ({
        source,
        platforms: call.platforms ?? [{ os: "linux", architecture: "amd64" }],
      })),
      {
        output: call.output,
        tool: "ferry test",
        ...(call.jobs ? { jobs: call.jobs } : {}),
        downloads: session,
      },
    ).catch(async (error: unknown) => {
      throw await session.explainFailure(error);
    });
    return { report, sources };
  } finally {
    for (const source of sources) await source.close();
  }
}

/** Unzip a bundle and check every blob's bytes hash to its name; returns digest -> size. */
export async function unzipAndCheck(
  bundle: string,
): Promise<{ dir: string; blobs: Map<string, number>; ferry: BundleManifest }> {
  const dir = await tempDir("ferry-unzip-");
  await run("unzip", ["-q", bundle, "-d", dir]);
  const blobs = new Map<string, number>();
  const blobDir = join(dir, "blobs", "sha256");
  for (const name of await readdir(blobDir)) {
    const bytes = await readFile(join(blobDir, name));
    const hex = createHash("sha256").update(bytes).digest("hex");
    if (hex !== name) throw new Error(`bundle blob ${name} has sha256 ${hex}`);
    blobs.set(`sha256:${name}`, bytes.length);
  }
  const ferry = JSON.parse(await readFile(join(dir, "ferry.json"), "utf8")) as BundleManifest;
  return { dir, blobs, ferry };
}

/** Digests of the verified blobs in a cache folder: copies, and pointers into bundles. */
export async function cachedDigests(cacheDir: string): Promise<string[]> {
  const { blobs } = await (await BlobCache.open(cacheDir)).list();
  return blobs.map((blob) => blob.digest);
}

/** Digests of the blobs the cache holds copies of (`blobs/sha256/`). */
export async function copiedDigests(cacheDir: string): Promise<string[]> {
  const names = await readdir(join(cacheDir, "blobs", "sha256")).catch(() => [] as string[]);
  return names.map((n) => `sha256:${n}`);
}

/** What `attemptSave` did: the report and checked blobs, or the error it returns. */
export interface SaveAttempt {
  report: Awaited<ReturnType<typeof saveRefs>>["report"] | undefined;
  /** The bundle's path (written only when there is no error). */
  output: string;
  /** digest -> size of the bundle's blobs, each checked (with `check`). */
  blobs: Map<string, number> | undefined;
  /** The session, closed (what it recorded can still be read). */
  session: RegistrySession;
  error: unknown;
}

/**
 * Save `refs` into a bundle in a new folder through a new test session, closed afterwards;
 * `certsDir` is an empty folder unless `options` names one (no host's certs apply). A failure
 * is returned, not thrown. With `check`, the bundle is unzipped and its blobs checked.
 */
export async function attemptSave(
  refs: string[],
  options: Partial<RegistrySessionOptions>,
  call: { platforms?: PlatformSelector; check?: boolean } = {},
): Promise<SaveAttempt> {
  const work = await tempDir();
  const output = join(work, "out.zip");
  const session = await testSession(join(work, "cache"), {
    certsDir: join(work, "no-certs"),
    ...options,
  });
  try {
    const { report } = await saveRefs(session, {
      refs,
      output,
      ...(call.platforms ? { platforms: call.platforms } : {}),
    });
    const blobs = call.check ? (await unzipAndCheck(output)).blobs : undefined;
    return { report, output, blobs, session, error: undefined };
  } catch (error) {
    return { report: undefined, output, blobs: undefined, session, error };
  } finally {
    await session.close();
  }
}
