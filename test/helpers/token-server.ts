/**
 * A Docker token service for tests: the flow Docker Hub and MCR use. It signs ES256 JWTs
 * with a throw-away key whose self-signed certificate (made with openssl) the registry
 * trusts through `auth.token.rootcertbundle`; the certificate travels in the `x5c` header.
 */

import { createPrivateKey, type KeyObject, randomUUID, sign, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { closeServer, listenOnLoopback } from "./loopback.js";
import { makeCertificate } from "./registry.js";

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenServerOptions {
  /** Folder for the key and certificate. */
  dir: string;
  users: Record<string, string>;
  /** Refresh tokens (docker's identitytoken) and the user each stands for. */
  refreshTokens?: Record<string, string>;
  /** Repositories anyone may pull without credentials. */
  publicRepositories?: string[];
  /** Seconds the JWT itself is valid (the registry enforces it); may be changed while running. */
  jwtLifetime?: number;
  /** Issue this many tokens already expired (past the registry's 60 s leeway), then good ones. */
  expiredTokens?: number;
  /** Seconds the JSON answer claims (`expires_in`); default = jwtLifetime. */
  claimedLifetime?: number;
  /** Serve https with this certificate (the realm is then https://). */
  tls?: { certificate: string; key: string };
  /** The host name the realm names (default 127.0.0.1; `localhost` is another host name). */
  realmHost?: string;
}

export interface TokenRequestLog {
  method: string;
  scopes: string[];
  user?: string;
  grant?: string;
  /** Whether the request carried an Authorization header (whatever it held). */
  authorization?: boolean;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** The certificate file to give the registry as rootcertbundle. */
  certificate: string;
  requests: TokenRequestLog[];
  /** A token granting `access` (for pushing test images). */
  mint(access: Access[]): string;
  options: TokenServerOptions;
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

function signJwt(key: KeyObject, certDer: Buffer, claims: Record<string, unknown>): string {
  const header = { typ: "JWT", alg: "ES256", x5c: [certDer.toString("base64")] };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${base64url(signature)}`;
}

function parseScope(scope: string): Access | undefined {
  const parts = scope.split(":");
  if (parts.length < 3) return undefined;
  const actions = (parts.pop() as string).split(",");
  const type = parts.shift() as string;
  return { type, name: parts.join(":"), actions };
}

async function readRequestBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A registry's `auth` setting that trusts the tokens of `tokens` (for startRegistry). */
export function tokenAuth(tokens: TokenServer): {
  token: { realm: string; service: string; issuer: string; rootCertBundle: string };
} {
  return {
    token: {
      realm: tokens.realm,
      service: tokens.service,
      issuer: tokens.issuer,
      rootCertBundle: tokens.certificate,
    },
  };
}

/** Start the token service on 127.0.0.1. */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const { certificate, key: keyFile } = await makeCertificate(options.dir, "token-signer");
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = new X509Certificate(await readFile(certificate)).raw;
  const service = "ferry-test-registry";
  const issuer = "ferry-test-issuer";
  const requests: TokenRequestLog[] = [];

  const mint = (access: Access[], subject = ""): string => {
    let now = Math.floor(Date.now() / 1000);
    if ((options.expiredTokens ?? 0) > 0) {
      options.expiredTokens = (options.expiredTokens ?? 0) - 1;
      now -= 3600;
    }
    return signJwt(key, certDer, {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: now + (options.jwtLifetime ?? 300),
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    });
  };

  const grant = (scopes: string[], user: string | undefined): Access[] =>
    scopes
      .map(parseScope)
      .filter((a): a is Access => a !== undefined)
      .map((a) => {
        if (user) return a;
        const isPublic =
          a.type === "repository" && (options.publicRepositories ?? []).includes(a.name);
        return { ...a, actions: isPublic ? a.actions.filter((x) => x === "pull") : [] };
      });

  const handler: RequestListener = async (request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const authorization = request.headers.authorization !== undefined;
    let user: string | undefined;
    let scopes = url.searchParams
      .getAll("scope")
      .flatMap((s) => s.split(" "))
      .filter(Boolean);
    let grantType: string | undefined;
    if (request.method === "POST") {
      const form = new URLSearchParams(await readRequestBody(request));
      grantType = form.get("grant_type") ?? undefined;
      scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      const refresh = form.get("refresh_token") ?? "";
      user = options.refreshTokens?.[refresh];
      if (grantType !== "refresh_token" || !user) {
        response
          .writeHead(401, { "Content-Type": "application/json" })
          .end('{"error":"invalid_grant"}');
        requests.push({
          method: "POST",
          scopes,
          authorization,
          ...(grantType ? { grant: grantType } : {}),
        });
        return;
      }
    } else {
      const header = request.headers.authorization ?? "";
      if (header.startsWith("Basic ")) {
        const [name = "", ...rest] = Buffer.from(header.slice(6), "base64").toString().split(":");
        if (options.users[name] !== rest.join(":")) {
          requests.push({ method: "GET", scopes, user: name, authorization });
          response
            .writeHead(401, { "Content-Type": "application/json" })
            .end('{"details":"bad credentials"}');
          return;
        }
        user = name;
      }
    }
    requests.push({
      method: request.method ?? "GET",
      scopes,
      authorization,
      ...(user ? { user } : {}),
      ...(grantType ? { grant: grantType } : {}),
    });
    const token = mint(grant(scopes, user), user ?? "");
    const claimed = options.claimedLifetime ?? options.jwtLifetime ?? 300;
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: claimed,
        issued_at: new Date().toISOString(),
      }),
    );
  };
  const server: Server = options.tls
    ? createHttpsServer(
        {
          cert: await readFile(options.tls.certificate),
          key: await readFile(options.tls.key),
        },
        handler,
      )
    : createServer(handler);
  const port = await listenOnLoopback(server);
  return {
    realm: `${options.tls ? "https" : "http"}://${options.realmHost ?? "127.0.0.1"}:${port}/token`,
    service,
    issuer,
    certificate,
    requests,
    options,
    mint: (access) => mint(access, "pusher"),
    stop: () => closeServer(server),
  };
}
