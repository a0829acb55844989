import { helperGet } from "./cred-helper.js";
import {
  authKeyFor,
  type DockerAuthEntry,
  type DockerConfigFile,
  decodeBasicAuth,
  dockerConfigPath,
  ferryAuthPath,
  findAuthEntry,
  helperFor,
  readDockerConfig,
} from "./docker-config.js";

/** What ferry may present to a registry. Never logged, never put in an error. */
export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token, exchanged at the token realm (docker's `identitytoken`). */
  identityToken?: string;
  /** A bearer token sent as is. */
  registryToken?: string;
  /** Where it came from, for messages: `--creds`, `/home/u/.docker/config.json`, `helper pass`. */
  origin: string;
}

/** Finds the credential for a registry host (`docker.io`, `host:5000`). */
export interface CredentialLookup {
  get(registry: string): Promise<Credential | undefined>;
}

/** The `<token>` user name docker writes when the secret is an identity token. */
const IDENTITY_TOKEN_USER = "<token>";

/** Parse `USER:PASSWORD` (the password may contain colons). */
export function parseCredsFlag(text: string): { username: string; password: string } | undefined {
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The credential a helper keeps; undefined when it has none or is not installed. */
async function credentialFromHelper(
  helper: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv,
): Promise<Credential | undefined> {
  let found: Awaited<ReturnType<typeof helperGet>>;
  try {
    found = await helperGet(helper, serverUrl, { env });
  } catch (error) {
    // A config copied from another machine may name a helper this one lacks: no credentials.
    if (error instanceof Error && /not found on PATH/.test(error.message)) return undefined;
    throw error;
  }
  if (!found) return undefined;
  const origin = `docker-credential-${helper}`;
  return found.Username === IDENTITY_TOKEN_USER
    ? { username: found.Username, identityToken: found.Secret, origin }
    : { username: found.Username, password: found.Secret, origin };
}

/** The credential an `auths` entry holds. */
function credentialFromEntry(entry: DockerAuthEntry, file: string): Credential | undefined {
  if (entry.identitytoken) {
    const basic = entry.auth ? decodeBasicAuth(entry.auth) : undefined;
    return {
      username: basic?.username ?? entry.username ?? IDENTITY_TOKEN_USER,
      identityToken: entry.identitytoken,
      origin: file,
    };
  }
  if (entry.registrytoken) return { registryToken: entry.registrytoken, origin: file };
  if (entry.auth) {
    const basic = decodeBasicAuth(entry.auth);
    if (basic) return { ...basic, origin: file };
  }
  if (entry.username && entry.password) {
    return { username: entry.username, password: entry.password, origin: file };
  }
  return undefined;
}

/**
 * Credentials from one docker-format config file. As in docker, a credential helper
 * (`credHelpers` for the registry, else `credsStore`) comes first; the `auths` entry is used
 * when there is no helper or the helper has nothing.
 */
export async function credentialFromConfig(
  config: DockerConfigFile,
  file: string,
  registry: string,
  env: NodeJS.ProcessEnv,
): Promise<Credential | undefined> {
  const found = findAuthEntry(config, registry);
  const helper = helperFor(config, registry);
  if (helper) {
    const fromHelper = await credentialFromHelper(helper, found?.key ?? authKeyFor(registry), env);
    if (fromHelper) return fromHelper;
  }
  return found ? credentialFromEntry(found.entry, file) : undefined;
}

export interface CredentialSources {
  /** From `--creds` or `--username` + `--password-stdin`: used for every registry. */
  explicit?: { username: string; password: string };
  /** ferry's own auth file (`--authfile`, default `ferryAuthPath()`). */
  authFile?: string;
  /** Also read docker's config (default true). */
  useDockerConfig?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * The lookup order: explicit flags, then ferry's auth file, then docker's config file
 * (`$DOCKER_CONFIG/config.json`). Each file may delegate to a credential helper. Results are
 * remembered per registry, so a helper runs at most once per registry and command.
 */
export function credentialLookup(sources: CredentialSources = {}): CredentialLookup {
  const env = sources.env ?? process.env;
  const files = [sources.authFile ?? ferryAuthPath(env)];
  if (sources.useDockerConfig ?? true) files.push(dockerConfigPath(env));
  const remembered = new Map<string, Promise<Credential | undefined>>();
  const find = async (registry: string): Promise<Credential | undefined> => {
    if (sources.explicit) return { ...sources.explicit, origin: "the command line" };
    for (const file of files) {
      const config = await readDockerConfig(file);
      if (!config) continue;
      const credential = await credentialFromConfig(config, file, registry, env);
      if (credential) return credential;
    }
    return undefined;
  };
  return {
    get(registry) {
      let found = remembered.get(registry);
      if (!found) {
        found = find(registry);
        remembered.set(registry, found);
      }
      return found;
    },
  };
}
