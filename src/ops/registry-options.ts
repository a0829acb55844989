import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { defaultCacheDir } from "../cache/blob-cache.js";
import { fromSystemError, UsageError } from "../errors.js";
import {
  type CredentialLookup,
  credentialLookup,
  parseCredsFlag,
} from "../transports/registry/credentials.js";
import { type ClientOptions, RegistrySession } from "../transports/registry/session.js";
import type { WimNetwork } from "../transports/wim/download.js";
import { formatPlatform, type PlatformSpec, platformFromNode } from "../types/platform.js";
import { type ProxyConfig, proxyConfigFrom } from "../types/proxy.js";

/** The registry flags as the CLI parsed them (plain data; see the pull command). */
export interface RegistryFlags {
  /** `USER:PASSWORD`. */
  creds?: string;
  username?: string;
  passwordStdin?: boolean;
  authfile?: string;
  insecureRegistry?: string[];
  caCert?: string[];
  /** `--proxy URL`: overrides HTTPS_PROXY and HTTP_PROXY, loopback included ("": no proxy). */
  proxy?: string;
  cache?: string;
  jobs?: number;
  retries?: number;
  /** Seconds without a byte before a connection counts as stalled. */
  stallTimeout?: number;
  /** Seconds a request may take for its answer (small answers whole, blobs their head). */
  timeout?: number;
  /** Bytes per second a download must average over the stall timeout's window (0: no floor). */
  minRate?: number;
}

/** How the command reaches outside itself (replaceable in tests). */
export interface RegistryIo {
  stdin?: Readable;
  env?: NodeJS.ProcessEnv;
  onNote?: (text: string) => void;
  userAgent?: string;
  /** Downloads straight into the engine's output (see `RegistrySessionOptions.direct`). */
  direct?: boolean;
  /** Stop downloads when this aborts (an interrupted command). */
  signal?: AbortSignal;
}

/** Read a password from a stream (stdin): all of it, less one trailing newline. */
export async function readPassword(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  const text = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (!text)
    throw new UsageError("--password-stdin: stdin was empty", {
      hint: 'pipe the password in: echo "$PASS" | ferry ...',
    });
  return text;
}

/** `--creds USER:PASS`, or `--username USER` with `--password-stdin`; undefined when neither. */
export async function explicitCredentials(
  flags: RegistryFlags,
  stdin: Readable = process.stdin,
): Promise<{ username: string; password: string } | undefined> {
  if (flags.creds !== undefined) {
    if (flags.username !== undefined || flags.passwordStdin) {
      throw new UsageError("--creds cannot be combined with --username or --password-stdin");
    }
    const parsed = parseCredsFlag(flags.creds);
    if (!parsed)
      throw new UsageError("--creds takes USER:PASSWORD", {
        hint: "or use --username USER --password-stdin",
      });
    return parsed;
  }
  if (flags.passwordStdin && flags.username === undefined) {
    throw new UsageError("--password-stdin needs --username USER");
  }
  if (flags.username !== undefined) {
    if (!flags.passwordStdin) {
      throw new UsageError("--username needs --password-stdin (the password is read from stdin)");
    }
    return { username: flags.username, password: await readPassword(stdin) };
  }
  return undefined;
}

async function readCaFiles(files: string[] | undefined): Promise<string[]> {
  const pems: string[] = [];
  for (const file of files ?? []) {
    try {
      pems.push(await readFile(file, "utf8"));
    } catch (error) {
      throw fromSystemError(error, file, "reading --ca-cert");
    }
  }
  return pems;
}

/**
 * The certificates of the file NODE_EXTRA_CA_CERTS names. Node trusts them by default, but a
 * CA list given to a connection replaces the defaults, so ferry adds them back to its own list
 * (`trustedCas`). A file that cannot be read is skipped: Node has warned about it at start-up.
 */
export async function readNodeExtraCaCertificates(env: NodeJS.ProcessEnv): Promise<string[]> {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    const pem = await readFile(file, "utf8");
    return pem.includes("-----BEGIN CERTIFICATE-----") ? [pem] : [];
  } catch {
    return [];
  }
}

/**
 * Extra CAs for every connection: NODE_EXTRA_CA_CERTS's, then the --ca-cert files (certs.d
 * adds its own per registry). With NODE_EXTRA_CA_CERTS alone the list is what Node trusts
 * anyway; it is there so that whatever is added later keeps it.
 */
async function extraCaCertificates(
  flags: RegistryFlags,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  return [...(await readNodeExtraCaCertificates(env)), ...(await readCaFiles(flags.caCert))];
}

/** The proxies for the flags and the environment (see `proxyConfigFrom`). */
export function proxyFromFlags(flags: RegistryFlags, env: NodeJS.ProcessEnv): ProxyConfig {
  return proxyConfigFrom(env, flags.proxy);
}

/** Credentials for the flags: explicit ones first, then the auth file, then docker's config. */
export async function credentialsFromFlags(
  flags: RegistryFlags,
  io: RegistryIo = {},
): Promise<CredentialLookup> {
  const explicit = await explicitCredentials(flags, io.stdin);
  return credentialLookup({
    ...(explicit ? { explicit } : {}),
    ...(flags.authfile ? { authFile: flags.authfile } : {}),
    ...(io.env ? { env: io.env } : {}),
  });
}

/** Client options (no cache) from the flags: for login, tags, search. */
export async function clientOptionsFromFlags(
  flags: RegistryFlags,
  io: RegistryIo = {},
): Promise<ClientOptions> {
  const env = io.env ?? process.env;
  return {
    credentials: await credentialsFromFlags(flags, io),
    insecureRegistries: flags.insecureRegistry ?? [],
    caCertificates: await extraCaCertificates(flags, env),
    proxy: proxyFromFlags(flags, env),
    ...(flags.retries !== undefined ? { retry: { retries: flags.retries } } : {}),
    ...(flags.stallTimeout !== undefined ? { stallTimeoutMs: flags.stallTimeout * 1000 } : {}),
    ...(flags.timeout !== undefined ? { requestTimeoutMs: flags.timeout * 1000 } : {}),
    ...(flags.minRate !== undefined ? { minRate: { bytesPerSecond: flags.minRate } } : {}),
    ...(io.userAgent ? { userAgent: io.userAgent } : {}),
    ...(io.onNote ? { onRetryNote: io.onNote } : {}),
  };
}

/** The timeouts and speed floor of the flags, for downloads outside registries (WIM URLs). */
export function downloadLimitsFromFlags(flags: RegistryFlags): {
  requestTimeoutMs?: number;
  stallTimeoutMs?: number;
  minRate?: { bytesPerSecond: number };
} {
  return {
    ...(flags.timeout !== undefined ? { requestTimeoutMs: flags.timeout * 1000 } : {}),
    ...(flags.stallTimeout !== undefined ? { stallTimeoutMs: flags.stallTimeout * 1000 } : {}),
    ...(flags.minRate !== undefined ? { minRate: { bytesPerSecond: flags.minRate } } : {}),
  };
}

/** The proxies and extra CAs of the flags, for downloads outside registries (WIM URLs). */
export async function downloadNetworkFromFlags(
  flags: RegistryFlags,
  io: Pick<RegistryIo, "env" | "userAgent"> = {},
): Promise<WimNetwork> {
  const env = io.env ?? process.env;
  const caCertificates = await extraCaCertificates(flags, env);
  return {
    ...(caCertificates.length ? { caCertificates } : {}),
    proxy: proxyFromFlags(flags, env),
    ...(io.userAgent ? { userAgent: io.userAgent } : {}),
  };
}

/** A registry session (clients, download cache, download queue) from the flags. */
export async function openRegistrySession(
  flags: RegistryFlags,
  io: RegistryIo = {},
): Promise<RegistrySession> {
  const clientOptions = await clientOptionsFromFlags(flags, io);
  return RegistrySession.open({
    ...clientOptions,
    cacheDir: flags.cache ?? defaultCacheDir(io.env),
    jobs: flags.jobs ?? 4,
    ...(io.onNote ? { onNote: io.onNote } : {}),
    ...(io.direct ? { direct: true } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  });
}

/** The platform registry images default to: this machine's (`linux/amd64` here). */
export function hostPlatform(): PlatformSpec {
  return platformFromNode(process.platform, process.arch);
}

/** The sentence the CLI prints about the default platform. */
export function describeDefaultPlatform(platform: PlatformSpec): string {
  return `platform ${formatPlatform(platform)} (this machine's; choose others with --platform, or --platform all)`;
}
