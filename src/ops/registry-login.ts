import { helperErase, helperStore } from "../transports/registry/cred-helper.js";
import {
  authKeyFor,
  encodeBasicAuth,
  ferryAuthPath,
  findAuthEntry,
  helperFor,
  normalizeAuthKey,
  readDockerConfig,
  writeDockerConfig,
} from "../transports/registry/docker-config.js";
import { type ClientOptions, openClient } from "../transports/registry/session.js";
import { parseReference } from "../types/reference.js";

export interface LoginOptions {
  /** The registry host (`docker.io` when omitted on the command line). */
  registry: string;
  username: string;
  password: string;
  /** The auth file to write (default: ferry's). */
  authFile?: string;
  /** TLS and http rules for reaching the registry (credentials are replaced by the ones given). */
  client: Omit<ClientOptions, "credentials">;
  env?: NodeJS.ProcessEnv;
}

export interface LoginReport {
  registry: string;
  username: string;
  /** Where the credentials went: the auth file, or `docker-credential-NAME`. */
  storedIn: string;
  /** The scheme the registry asked for: `basic`, `bearer`, or `none`. */
  scheme: string;
}

/** Normalize a registry argument: `https://index.docker.io/v1/`, `docker.io`, `host:5000`. */
export function registryArgument(text: string | undefined): string {
  if (!text) return "docker.io";
  const host = normalizeAuthKey(text);
  parseReference(`${host}/x`);
  return host;
}

/**
 * Check credentials against the registry (as `docker login` does), then keep them in a
 * docker-format auth file (0600) or in the credential helper that file names.
 */
export async function login(options: LoginOptions): Promise<LoginReport> {
  const { registry, username, password } = options;
  const client = await openClient(registry, {
    ...options.client,
    credentials: { get: async () => ({ username, password, origin: "the login command" }) },
  });
  let scheme: string;
  try {
    scheme = await client.checkLogin();
  } finally {
    client.close();
  }
  const file = options.authFile ?? ferryAuthPath(options.env);
  const config = (await readDockerConfig(file)) ?? {};
  const helper = helperFor(config, registry);
  if (helper) {
    await helperStore(
      helper,
      { ServerURL: authKeyFor(registry), Username: username, Secret: password },
      {
        ...(options.env ? { env: options.env } : {}),
      },
    );
    return { registry, username, storedIn: `docker-credential-${helper}`, scheme };
  }
  const auths = { ...config.auths };
  const existing = findAuthEntry(config, registry);
  if (existing) delete auths[existing.key];
  auths[authKeyFor(registry)] = { auth: encodeBasicAuth(username, password) };
  await writeDockerConfig(file, { ...config, auths });
  return { registry, username, storedIn: file, scheme };
}

/** Forget a registry's credentials (auth file entry and credential helper). */
export async function logout(options: {
  registry: string;
  authFile?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<{ registry: string; removedFrom: string[] }> {
  const file = options.authFile ?? ferryAuthPath(options.env);
  const config = await readDockerConfig(file);
  const removedFrom: string[] = [];
  if (!config) return { registry: options.registry, removedFrom };
  const auths = { ...config.auths };
  let changed = false;
  for (const key of Object.keys(auths)) {
    if (normalizeAuthKey(key) === options.registry) {
      delete auths[key];
      changed = true;
    }
  }
  if (changed) {
    await writeDockerConfig(file, { ...config, auths });
    removedFrom.push(file);
  }
  const helper = helperFor(config, options.registry);
  if (helper) {
    await helperErase(helper, authKeyFor(options.registry), {
      ...(options.env ? { env: options.env } : {}),
    });
    removedFrom.push(`docker-credential-${helper}`);
  }
  return { registry: options.registry, removedFrom };
}
