import type http from "node:http";
import type { Credential, CredentialLookup } from "./credentials.js";
import { encodeBasicAuth } from "./docker-config.js";
import { RegistryError } from "./errors.js";
import { displayUrl } from "./redact.js";
import { type RetryPolicy, withRetries } from "./retry.js";
import { type BearerToken, requestToken } from "./token.js";
import { type Challenge, parseWwwAuthenticate, pickChallenge } from "./www-authenticate.js";

export interface AuthorizerOptions {
  /** The registry host, as credentials are keyed: `docker.io`, `host:5000`. */
  registry: string;
  credentials: CredentialLookup;
  retry: RetryPolicy;
  stallTimeoutMs: number;
  userAgent: string;
  /** Whether secrets may travel over plain http (loopback and --insecure-registry hosts). */
  plainHttpAllowed: boolean;
  /** Pool for token realm requests on the registry's own host (custom CAs). */
  agentFor: (url: URL) => http.Agent | undefined;
}

/** Renew a token this long before it says it expires. */
const EXPIRY_MARGIN_MS = 5_000;

/** `repository:NAME:pull`. */
export function repositoryScope(repository: string, actions = "pull"): string {
  return `repository:${repository}:${actions}`;
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
    const realm = challenge.params.realm ?? "";
    if (credential && realm.startsWith("http:") && !this.options.plainHttpAllowed) {
      throw new RegistryError(
        "ETRUST",
        `${this.options.registry} asks for credentials at ${displayUrl(realm)}, over plain http: refused`,
        {
          hint: `if that is really wanted (a lab registry), name it with --insecure-registry ${this.options.registry}`,
        },
      );
    }
    const fresh = withRetries(this.options.retry, () => {
      this.tokenRequests++;
      const agent = safeUrl(realm) ? this.options.agentFor(new URL(realm)) : undefined;
      return requestToken({
        realm,
        ...(challenge.params.service ? { service: challenge.params.service } : {}),
        scopes,
        ...(credential ? { credential } : {}),
        registry: this.options.registry,
        ...(agent ? { agent } : {}),
        stallTimeoutMs: this.options.stallTimeoutMs,
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

function safeUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}
