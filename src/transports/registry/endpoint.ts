import { readdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { fromSystemError } from "../../errors.js";
import type { TlsSettings } from "./http.js";

/** Docker Hub's API host; references say `docker.io`. */
const DOCKER_HUB_API_HOST = "registry-1.docker.io";

/** Where docker keeps per-registry CA and client certificates. */
export const DEFAULT_CERTS_DIR = "/etc/docker/certs.d";

export interface EndpointPolicy {
  /** Hosts (`host` or `host:port`) that may use plain http or unverified TLS. */
  insecureRegistries: string[];
  /** Extra CA certificates (PEM text) trusted for every registry. */
  caCertificates: string[];
  /** Per-host certificate folders (`<dir>/<host[:port]>/*.crt`, `*.cert` + `*.key`). */
  certsDir: string;
}

/** The host:port to talk to for a registry name (`docker.io` -> `registry-1.docker.io`). */
export function apiHost(registry: string): string {
  return registry === "docker.io" ? DOCKER_HUB_API_HOST : registry;
}

/** `localhost`, `127.x.x.x`, `::1` (with or without a port). */
export function isLoopbackHost(host: string): boolean {
  let name = host;
  if (name.startsWith("[")) name = name.slice(1, name.indexOf("]"));
  else if (name.includes(":") && isIP(name) !== 6) name = name.slice(0, name.lastIndexOf(":"));
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  return name === "::1";
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
export function allowsPlainHttp(registry: string, policy: EndpointPolicy): boolean {
  return isLoopbackHost(registry) || isInsecure(registry, policy);
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fromSystemError(error, file, "reading");
  }
}

/**
 * The TLS settings for a registry: the system CAs plus `--ca-cert` files plus docker's
 * `certs.d/<host>/*.crt`; a client certificate from `certs.d/<host>/<name>.cert` + `.key`;
 * verification off only for --insecure-registry hosts.
 */
export async function tlsSettingsFor(
  registry: string,
  policy: EndpointPolicy,
): Promise<TlsSettings> {
  const ca = [...policy.caCertificates];
  const settings: TlsSettings = { verify: !isInsecure(registry, policy) };
  const dir = path.join(
    policy.certsDir,
    registry.replace(/:/g, process.platform === "win32" ? "_" : ":"),
  );
  let names: string[] = [];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    if (name.endsWith(".crt")) {
      const pem = await readIfExists(path.join(dir, name));
      if (pem) ca.push(pem);
    } else if (name.endsWith(".cert")) {
      const cert = await readIfExists(path.join(dir, name));
      const key = await readIfExists(path.join(dir, `${name.slice(0, -".cert".length)}.key`));
      if (cert && key) {
        settings.cert = cert;
        settings.key = key;
      }
    }
  }
  if (ca.length > 0) settings.ca = ca;
  return settings;
}
