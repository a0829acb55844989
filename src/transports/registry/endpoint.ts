import { readdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isLoopbackHost } from "../../types/url.js";
import { ifExists } from "../../util/if-exists.js";
import type { TlsSettings } from "./http.js";

export { isLoopbackHost };

/** Docker Hub's API host; references say `docker.io`. */
const DOCKER_HUB_API_HOST = "registry-1.docker.io";

/** Where docker keeps per-registry CA and client certificates on Linux. */
export const DEFAULT_CERTS_DIR = "/etc/docker/certs.d";

/**
 * Docker's per-registry certificate folders on this system, the user's own first: on Windows
 * `%USERPROFILE%\.docker\certs.d` and `%ProgramData%\docker\certs.d` (where the Windows
 * daemon reads them), elsewhere `~/.docker/certs.d` and `/etc/docker/certs.d`.
 */
export function defaultCertsDirs(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string[] {
  if (platform === "win32") {
    const home = env.USERPROFILE || os.homedir();
    const programData = env.ProgramData || env.PROGRAMDATA || "C:\\ProgramData";
    return [
      path.win32.join(home, ".docker", "certs.d"),
      path.win32.join(programData, "docker", "certs.d"),
    ];
  }
  const home = env.HOME || os.homedir();
  return [path.posix.join(home, ".docker", "certs.d"), DEFAULT_CERTS_DIR];
}

export interface EndpointPolicy {
  /** Hosts (`host` or `host:port`) that may use plain http or unverified TLS. */
  insecureRegistries: string[];
  /**
   * Extra CA certificates (PEM text) trusted for every registry, in addition to Node's default
   * ones (NODE_EXTRA_CA_CERTS included: see `readNodeExtraCaCertificates`).
   */
  caCertificates: string[];
  /**
   * Per-host certificate folders (`<dir>/<host[:port]>/*.crt`, `*.cert` + `*.key`), all read:
   * CAs from every one, a client certificate from the first that has one.
   */
  certsDirs: string[];
}

/**
 * The folder names certs.d uses for a registry: `host:port` (Linux, macOS); on Windows, where
 * a name cannot hold a colon, docker's `hostport` and ferry's earlier `host_port`.
 */
export function certsDirNames(
  registry: string,
  platform: NodeJS.Platform = process.platform,
): string[] {
  if (platform !== "win32" || !registry.includes(":")) return [registry];
  return [registry.replace(/:/g, ""), registry.replace(/:/g, "_")];
}

/** The host:port to talk to for a registry name (`docker.io` -> `registry-1.docker.io`). */
export function apiHost(registry: string): string {
  return registry === "docker.io" ? DOCKER_HUB_API_HOST : registry;
}

/** Whether the user named this registry (with or without its port) with --insecure-registry. */
export function isInsecure(
  registry: string,
  policy: Pick<EndpointPolicy, "insecureRegistries">,
): boolean {
  const name = registry.toLowerCase();
  const hostOnly = name.replace(/:\d+$/, "");
  return policy.insecureRegistries.some((entry) => {
    const named = entry.toLowerCase();
    return named === name || named === hostOnly;
  });
}

/** Plain http is allowed for loopback registries and the ones the user named insecure. */
export function allowsPlainHttp(
  registry: string,
  policy: Pick<EndpointPolicy, "insecureRegistries">,
): boolean {
  return isLoopbackHost(registry) || isInsecure(registry, policy);
}

function readIfExists(file: string): Promise<string | undefined> {
  return ifExists(readFile(file, "utf8"), file);
}

/** The sorted entries of a folder; none when it is missing or unreadable (docker does the same). */
async function listIfExists(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/**
 * The TLS settings for a registry: the system CAs plus `--ca-cert` files plus docker's
 * `certs.d/<host>/*.crt` from every certs.d folder; a client certificate from
 * `certs.d/<host>/<name>.cert` + `.key` (the first folder that has one); verification off only
 * for --insecure-registry hosts.
 */
export async function tlsSettingsFor(
  registry: string,
  policy: EndpointPolicy,
): Promise<TlsSettings> {
  const ca = [...policy.caCertificates];
  const settings: TlsSettings = { verify: !isInsecure(registry, policy) };
  for (const certsDir of policy.certsDirs) {
    for (const dirName of certsDirNames(registry)) {
      const dir = path.join(certsDir, dirName);
      for (const name of await listIfExists(dir)) {
        if (name.endsWith(".crt")) {
          const pem = await readIfExists(path.join(dir, name));
          if (pem) ca.push(pem);
        } else if (name.endsWith(".cert") && !settings.cert) {
          const cert = await readIfExists(path.join(dir, name));
          const key = await readIfExists(path.join(dir, `${name.slice(0, -".cert".length)}.key`));
          if (cert && key) {
            settings.cert = cert;
            settings.key = key;
          }
        }
      }
    }
  }
  if (ca.length > 0) settings.ca = ca;
  return settings;
}
