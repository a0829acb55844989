import { chmod, mkdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FerryError, fromSystemError } from "../../errors.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { ifExists } from "../../util/if-exists.js";
import { windowsAppDataDir, xdgBaseDir } from "../../util/user-dirs.js";

/** One `auths` entry of a docker config file. */
export interface DockerAuthEntry {
  /** base64 of `user:password`. */
  auth?: string;
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`docker login` to some registries stores one). */
  identitytoken?: string;
  /** A bearer token to send as is. */
  registrytoken?: string;
}

/** The parts of a docker config file ferry reads and writes; other keys are kept as they are. */
export interface DockerConfigFile {
  auths?: Record<string, DockerAuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** How Docker Hub is keyed in docker config files. */
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG || path.join(os.homedir(), ".docker");
  return path.join(dir, "config.json");
}

/**
 * ferry's own auth file (what `ferry login` writes): `$FERRY_AUTH_FILE`, else
 * `$XDG_CONFIG_HOME/ferry/auth.json` (`%APPDATA%\ferry\auth.json` on Windows).
 */
export function ferryAuthPath(
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
): string {
  if (env.FERRY_AUTH_FILE) return path.resolve(env.FERRY_AUTH_FILE);
  if (platform === "win32")
    return path.join(windowsAppDataDir(env, "APPDATA"), "ferry", "auth.json");
  return path.join(xdgBaseDir(env, "XDG_CONFIG_HOME", ".config"), "ferry", "auth.json");
}

/** Read a docker config file; undefined when it does not exist. */
export async function readDockerConfig(file: string): Promise<DockerConfigFile | undefined> {
  const text = await ifExists(readFile(file, "utf8"), file);
  if (text === undefined) return undefined;
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== "object" || doc === null || Array.isArray(doc))
      throw new Error("not an object");
    return doc as DockerConfigFile;
  } catch (error) {
    throw new FerryError(
      "EUSAGE",
      `${file} is not a valid docker config file (${(error as Error).message})`,
      {
        hint: "fix or remove the file",
      },
    );
  }
}

/** Write a docker config file atomically, readable by its owner only (0600). */
export async function writeDockerConfig(file: string, config: DockerConfigFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw fromSystemError(error, path.dirname(file), "creating");
  });
  await writeFileAtomic(file, Buffer.from(`${JSON.stringify(config, null, "\t")}\n`), {
    mode: 0o600,
  });
  await chmod(file, 0o600).catch(() => {});
}

/** The host a config key names: `https://host/v1/` -> `host`; Docker Hub names -> `docker.io`. */
export function normalizeAuthKey(key: string): string {
  let host = key.replace(/^[a-z]+:\/\//i, "");
  host = host.split("/")[0] ?? host;
  host = host.toLowerCase();
  if (host === "index.docker.io" || host === "registry-1.docker.io") return "docker.io";
  return host;
}

/** The key `ferry login` writes for a registry (Docker Hub keeps docker's historic key). */
export function authKeyFor(registry: string): string {
  return registry === "docker.io" ? DOCKER_HUB_AUTH_KEY : registry;
}

/** The `auths` entry for a registry, under any of the spellings docker accepts. */
export function findAuthEntry(
  config: DockerConfigFile,
  registry: string,
): { key: string; entry: DockerAuthEntry } | undefined {
  const auths = config.auths ?? {};
  const exact = auths[authKeyFor(registry)];
  if (exact) return { key: authKeyFor(registry), entry: exact };
  for (const [key, entry] of Object.entries(auths)) {
    if (normalizeAuthKey(key) === registry) return { key, entry };
  }
  return undefined;
}

/** The credential helper a config names for a registry (`credHelpers`, else `credsStore`). */
export function helperFor(config: DockerConfigFile, registry: string): string | undefined {
  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    if (normalizeAuthKey(key) === registry) return helper;
  }
  return config.credsStore || undefined;
}

/** base64 of `user:password`. */
export function encodeBasicAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, "utf8").toString("base64");
}

/** Split a base64 `auth` field; undefined when it is malformed. */
export function decodeBasicAuth(auth: string): { username: string; password: string } | undefined {
  const text = Buffer.from(auth, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
