import type http from "node:http";
import type { Credential, CredentialLookup } from "./credentials.js";
import { encodeBasicAuth } from "./docker-config.js";
import { type RetryPolicy, withRetries } from "./retry.js";
import { type BearerToken, requestToken } from "./token.js";
import { vetRealm } from "./token-realm.js";
import { type Challenge, parseWwwAuthenticate, pickChallenge } from "./www-authenticate.js";

export interface AuthorizerOptions {
  /** The registry host, as credentials are keyed: `docker.io`, `host:5000`. */
  registry: string;
  credentials: CredentialLookup;
  retry: RetryPolicy;
  stallTimeoutMs: number;
  userAgent: string;
  /** The host:port the registry's API is on (`registry-1.docker.io` for docker.io). */
  registryHost: string;
  /** Whether the user named a host (`host` or `host:port`) with --insecure-registry. */
  isInsecure: (host: string) => boolean;
  /** The whole token exchange must be over within this long (ms). */
  deadlineMs?: number;
  /** Connection pool for a realm URL (the registry's TLS settings on its host, --ca-cert on others). */
  agentFor: (url: URL) => http.Agent | undefined;
}

/** Renew a token this long before it says it expires. */
const EXPIRY_MARGIN_MS = 5_000;

/** `repository:NAME:pull`. */
export function repositoryScope(repository: string, actions = "pull"): string {
  return `repository:${repository}:${actions}`;
}

/** `repository:NAME:pull,push`: what every request to a push target asks for. */
export function pushScope(repository: string): string {
  return repositoryScope(repository, "pull,push");
}

/** The scope the catalog needs. */
export const CATALOG_SCOPE = "registry:catalog:*";

/**
 * Answers a registry's authentication challenges: Basic with the user's credentials, or
 * bearer tokens from the token realm (anonymous when there are no credentials), cached per
 * scope and renewed when they expire or a request gets 401.
 */
export class Authorizer {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<BearerToken>>();
  /** How many tokens were fetched (tests and diagnostics). */
  tokenRequests = 0;

  constructor(private readonly options: AuthorizerOptions) {}

  /** The scheme the registry asked for, once known: `basic`, `bearer`, or undefined (none). */
  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  /** Remember the challenge a 401 carried. Returns its extra scopes (insufficient_scope). */
  learn(header: string | undefined): string[] {
    const challenge = header ? pickChallenge(parseWwwAuthenticate(header)) : undefined;
    if (challenge) this.challenge = challenge;
    const scope = challenge?.params.scope;
    return scope ? scope.split(" ").filter(Boolean) : [];
  }

  credential(): Promise<Credential | undefined> {
    return this.options.credentials.get(this.options.registry);
  }

  /** The Authorization header for a request needing `scopes`, or undefined. */
  async authorization(scopes: string[]): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    const credential = await this.credential();
    if (challenge.scheme === "basic") {
      if (credential?.username === undefined || credential.password === undefined) return undefined;
      return `Basic ${encodeBasicAuth(credential.username, credential.password)}`;
    }
    if (credential?.registryToken) return `Bearer ${credential.registryToken}`;
    const token = await this.token(challenge, scopes, credential);
    return `Bearer ${token.value}`;
  }

  /** Forget the cached token for these scopes (after a 401). */
  invalidate(scopes: string[]): void {
    this.tokens.delete(scopeKey(scopes));
  }

  private async token(
    challenge: Challenge,
    scopes: string[],
    credential: Credential | undefined,
  ): Promise<BearerToken> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && token.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return token;
      if (this.tokens.get(key) !== cached) return this.token(challenge, scopes, credential);
    }
    const realm = vetRealm(challenge.params.realm, credential, {
      registry: this.options.registry,
      registryHost: this.options.registryHost,
      isInsecure: this.options.isInsecure,
    });
    const fresh = withRetries(this.options.retry, () => {
      this.tokenRequests++;
      const agent = this.options.agentFor(realm);
      return requestToken({
        realm,
        ...(challenge.params.service ? { service: challenge.params.service } : {}),
        scopes,
        ...(credential ? { credential } : {}),
        registry: this.options.registry,
        ...(agent ? { agent } : {}),
        stallTimeoutMs: this.options.stallTimeoutMs,
        ...(this.options.deadlineMs === undefined ? {} : { deadlineMs: this.options.deadlineMs }),
        userAgent: this.options.userAgent,
      });
    });
    this.tokens.set(key, fresh);
    try {
      return await fresh;
    } catch (error) {
      if (this.tokens.get(key) === fresh) this.tokens.delete(key);
      throw error;
    }
  }
}

function scopeKey(scopes: string[]): string {
  return [...new Set(scopes)].sort().join(" ");
}
