/**
 * Start the real distribution registry (Debian `docker-registry`) on 127.0.0.1 with a temp
 * config and storage, and push test images into it over its HTTP API.
 */

import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { commandRuns } from "./installed.js";

const run = promisify(execFile);

export const REGISTRY_BINARY = "docker-registry";

/** True when the registry binary is installed. */
export const hasRegistry: boolean = commandRuns(REGISTRY_BINARY, ["--version"]);

export interface RegistryAuth {
  htpasswd?: { users: Record<string, string> };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export interface StartRegistryOptions {
  auth?: RegistryAuth;
  tls?: { certificate: string; key: string };
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT`: what references name. */
  host: string;
  /** `http://127.0.0.1:PORT` (or https). */
  url: string;
  dir: string;
  stop(): Promise<void>;
  /** What the registry printed (for failing tests). */
  log(): string;
}

/** A bcrypt htpasswd line (`htpasswd -nbB`, else Python's crypt, which libxcrypt backs). */
export async function htpasswdLine(user: string, password: string): Promise<string> {
  try {
    const { stdout } = await run("htpasswd", ["-nbB", user, password]);
    return stdout.trim();
  } catch {
    const script =
      "import crypt,sys,warnings\nwarnings.simplefilter('ignore')\nprint(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))";
    const { stdout } = await run("python3", ["-c", script, password]);
    const hash = stdout.trim();
    if (!hash.startsWith("$2")) throw new Error("no bcrypt available (install apache2-utils)");
    return `${user}:${hash}`;
  }
}

/** GET /v2/ and return the status and the identity header (TLS not verified: "is it ours?"). */
function probe(url: string): Promise<{ status: number; identity: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith("https:") ? https : http).get(
      `${url}/v2/`,
      { rejectUnauthorized: false },
      (response) => {
        response.resume();
        const identity = response.headers[IDENTITY_HEADER.toLowerCase()];
        resolve({
          status: response.statusCode ?? 0,
          identity: Array.isArray(identity) ? identity[0] : identity,
        });
      },
    );
    request.on("error", reject);
  });
}

/** The header every answer of a test registry carries, with a value unique to that registry. */
const IDENTITY_HEADER = "X-Ferry-Test-Registry";

/** What the registry prints once its listener is bound: `listening on 127.0.0.1:PORT[, tls]`. */
const LISTENING = /listening on 127\.0\.0\.1:(\d+)/;

/** Keep at most this much of what the registry prints (its info log has a line per request). */
const LOG_LIMIT = 256 * 1024;

/**
 * Start a registry; `stop()` kills it and removes its storage. It binds port 0 itself (the
 * kernel picks a free port, nobody can take it between a probe and the bind) and logs the
 * port it got; the first answer must carry this registry's own random identity header, so a
 * test never talks to some other server on that port.
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-registry-"));
  const identity = randomBytes(12).toString("hex");
  const config: Record<string, unknown> = {
    version: 0.1,
    // info: the "listening on" line tells the port (access logs stay off).
    log: { level: "info", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, "data") }, delete: { enabled: true } },
    // Foreign layers (old Windows images) name loopback URLs in the tests.
    validation: { manifests: { urls: { allow: ["^https?://"] } } },
    http: {
      addr: "127.0.0.1:0",
      headers: { [IDENTITY_HEADER]: [identity] },
      ...(options.tls ? { tls: options.tls } : {}),
    },
  };
  if (options.auth?.htpasswd) {
    const lines = await Promise.all(
      Object.entries(options.auth.htpasswd.users).map(([u, p]) => htpasswdLine(u, p)),
    );
    await writeFile(join(dir, "htpasswd"), `${lines.join("\n")}\n`);
    config.auth = { htpasswd: { realm: "ferry-test", path: join(dir, "htpasswd") } };
  }
  if (options.auth?.token) {
    const t = options.auth.token;
    config.auth = {
      token: {
        realm: t.realm,
        service: t.service,
        issuer: t.issuer,
        rootcertbundle: t.rootCertBundle,
      },
    };
  }
  const configFile = join(dir, "config.yml");
  await writeFile(configFile, stringify(config));
  const child = spawn(REGISTRY_BINARY, ["serve", configFile], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Listeners first, at spawn: an early exit or the port line can never be missed.
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  let resolvePort: (port: number) => void = () => {};
  const bound = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  const hear = (data: Buffer) => {
    output += data.toString();
    const port = LISTENING.exec(output)?.[1];
    if (port) resolvePort(Number(port));
    if (output.length > LOG_LIMIT) output = output.slice(-LOG_LIMIT);
  };
  child.stdout?.on("data", hear);
  child.stderr?.on("data", hear);
  const failed = new Promise<never>((_, reject) => {
    child.once("error", reject);
    void exited.then(() => reject(new Error(`registry exited before listening:\n${output}`)));
  });
  failed.catch(() => {});
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await Promise.race([bound, failed]);
    const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
    const answer = await probe(url);
    if (answer.identity !== identity) {
      throw new Error(
        `${url} answered without this registry's identity header (another server?):\n${output}`,
      );
    }
    return { host: `127.0.0.1:${port}`, url, dir, log: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Test images

/**
 * Copy an image with skopeo (the reference tooling), digests kept and TLS not verified (the
 * registries here use test CAs): `from` and `to` are skopeo references (docker://, oci:).
 * `all`: every platform of an index, the index kept as it is (`--all`).
 */
export async function skopeoCopy(
  from: string,
  to: string,
  options: { all?: boolean } = {},
): Promise<void> {
  await run("skopeo", [
    "copy",
    "-q",
    ...(options.all ? ["--all"] : []),
    "--preserve-digests",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    from,
    to,
  ]);
}

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
export const DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export interface TestPlatform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
}

/** A manifest (or index) with the blobs it needs, ready to push. */
export interface TestImage {
  mediaType: string;
  bytes: Buffer;
  digest: string;
  /** Blobs to upload (configs and non-foreign layers), by digest. */
  blobs: Map<string, Buffer>;
  /** Child manifests (for an index). */
  children: TestImage[];
  platform?: TestPlatform;
  /** Layer descriptors, in order (for tests that look at them). */
  layers: Array<{ digest: string; size: number; mediaType: string; urls?: string[] }>;
}

export interface MakeImageOptions {
  platform?: TestPlatform;
  /** Layer contents (random bytes are fine: the registry does not look inside). */
  layers?: Buffer[];
  /** Layers to reference as foreign (not uploaded), with their URLs. */
  foreign?: Array<{ bytes: Buffer; urls: string[] }>;
  docker?: boolean;
}

/** An image manifest with a config naming its platform. */
/**
 * Push a Windows image (Docker media types) with one foreign layer whose URL is never fetched:
 * `REPO:1` on the registry at `url` (what `--skip-foreign` is for).
 */
export async function pushForeignLayerImage(url: string, repository: string): Promise<void> {
  await pushImage(
    url,
    repository,
    "1",
    makeImage({
      docker: true,
      platform: { os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" },
      foreign: [{ bytes: randomBytes(1000), urls: ["http://127.0.0.1:9/never-fetched.tar.gz"] }],
    }),
  );
}

export function makeImage(options: MakeImageOptions = {}): TestImage {
  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const layers = options.layers ?? [randomBytes(1024)];
  const docker = options.docker ?? false;
  const blobs = new Map<string, Buffer>();
  const layerDescriptors: TestImage["layers"] = [];
  for (const f of options.foreign ?? []) {
    layerDescriptors.push({
      mediaType: DOCKER_FOREIGN,
      digest: sha256(f.bytes),
      size: f.bytes.length,
      urls: f.urls,
    });
  }
  for (const layer of layers) {
    blobs.set(sha256(layer), layer);
    layerDescriptors.push({
      mediaType: docker ? DOCKER_LAYER : OCI_LAYER,
      digest: sha256(layer),
      size: layer.length,
    });
  }
  const config = Buffer.from(
    JSON.stringify({
      ...platform,
      created: "2024-01-01T00:00:00Z",
      rootfs: { type: "layers", diff_ids: layerDescriptors.map((l) => l.digest) },
      config: {},
    }),
  );
  blobs.set(sha256(config), config);
  const manifest = {
    schemaVersion: 2,
    mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    config: {
      mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG,
      digest: sha256(config),
      size: config.length,
    },
    layers: layerDescriptors,
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  return {
    mediaType: manifest.mediaType,
    bytes,
    digest: sha256(bytes),
    blobs,
    children: [],
    platform,
    layers: layerDescriptors,
  };
}

/** An OCI index over images (each with its platform). */
export function makeIndex(children: TestImage[]): TestImage {
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c) => ({
      mediaType: c.mediaType,
      digest: c.digest,
      size: c.bytes.length,
      ...(c.platform ? { platform: c.platform } : {}),
    })),
  };
  const bytes = Buffer.from(JSON.stringify(index, null, 2));
  return {
    mediaType: OCI_INDEX,
    bytes,
    digest: sha256(bytes),
    blobs: new Map(),
    children,
    layers: [],
  };
}

/** Push an image (and, for an index, its children) with the registry API. */
export async function pushImage(
  registryUrl: string,
  repository: string,
  tag: string,
  image: TestImage,
  authorization?: string,
): Promise<void> {
  const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
  for (const child of image.children)
    await pushImage(registryUrl, repository, child.digest, child, authorization);
  for (const [digest, blob] of image.blobs) {
    const head = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, {
      method: "HEAD",
      headers,
    });
    if (head.status === 200) continue;
    const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, {
      method: "POST",
      headers,
    });
    await start.arrayBuffer();
    if (start.status !== 202) throw new Error(`upload start ${start.status}`);
    const location = new URL(start.headers.get("location") ?? "", registryUrl);
    location.searchParams.set("digest", digest);
    const put = await fetch(location, {
      method: "PUT",
      headers: { ...headers, "Content-Type": "application/octet-stream" },
      body: blob,
    });
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`upload ${digest} ${put.status}`);
  }
  const put = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { ...headers, "Content-Type": image.mediaType },
    body: image.bytes,
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`manifest push ${put.status}: ${text}`);
}

/** A self-signed certificate (EC P-256) for 127.0.0.1, made with openssl. */
export async function makeCertificate(
  dir: string,
  name: string,
): Promise<{ certificate: string; key: string }> {
  const certificate = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    certificate,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  return { certificate, key };
}
