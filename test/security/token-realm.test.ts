/**
 * Where a registry may send ferry for tokens, and what goes there (issue 13): realms are read
 * with the URL parser (`HTTP://`, `Http://` and a leading space are http), plain http goes to
 * loopback realms only (or hosts the user named insecure), credentials never go over http to
 * another host, and --ca-cert is trusted on the realm's host too. The token service here is the
 * test one (ES256 JWTs the real registry checks); it logs whether each request carried an
 * Authorization header.
 */

import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../src/errors.js";
import { credentialLookup } from "../../src/transports/registry/credentials.js";
import type { RegistrySessionOptions } from "../../src/transports/registry/session.js";
import { openClient } from "../../src/transports/registry/session.js";
import { errorOf } from "../helpers/errors.js";
import {
  makeCertificate,
  makeImage,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImage,
} from "../helpers/registry.js";
import { startTokenServer, type TokenServer, tokenAuth } from "../helpers/token-server.js";
import {
  attemptSave,
  removeTempDirs,
  tempDir,
  unzipAndCheck,
} from "../transports/registry/fixtures.js";

const BOB = { username: "bob", password: "t0ken-pass-SECRET" };
const SCOPE = "repository:private/app:pull";

const explicit = (user = BOB) =>
  credentialLookup({ explicit: user, useDockerConfig: false, authFile: "/nonexistent" });
const nobody = () => credentialLookup({ useDockerConfig: false, authFile: "/nonexistent" });

describe("token realms a remote registry names (challenge answered by ferry's authorizer)", () => {
  let tokens: TokenServer;
  let port: string;

  beforeAll(async () => {
    tokens = await startTokenServer({ dir: await tempDir(), users: { bob: BOB.password } });
    port = new URL(tokens.realm).port;
  });

  afterAll(async () => {
    await tokens?.stop();
    await removeTempDirs();
  });

  /**
   * The authorizer of a client for a registry on another machine (never contacted here): it
   * learns the challenge as a 401 would carry it, then is asked for a header.
   */
  async function authorize(realm: string, options: { creds?: boolean; insecure?: string[] } = {}) {
    const client = await openClient("registry.example.test", {
      credentials: options.creds === false ? nobody() : explicit(),
      certsDir: await tempDir(),
      insecureRegistries: options.insecure ?? [],
      retry: { retries: 0 },
    });
    try {
      client.auth.learn(`Bearer realm="${realm}",service="${tokens.service}",scope="${SCOPE}"`);
      return await client.auth.authorization([SCOPE]);
    } finally {
      client.close();
    }
  }

  it.each([
    ["HTTP://127.0.0.1:PORT/token"],
    ["Http://127.0.0.1:PORT/token"],
    ["hTtP://127.0.0.1:PORT/token"],
    [" http://127.0.0.1:PORT/token"],
    ["\thttp://127.0.0.1:PORT/token"],
    ["http://127.0.0.1:PORT/token"],
  ])(
    "credentials are not sent over http to realm %j: ETRUST, nothing reached the token service",
    async (template) => {
      tokens.requests.length = 0;
      const error = await errorOf(authorize(template.replace("PORT", port)));
      expect(isFerryError(error) && error.code).toBe("ETRUST");
      expect((error as Error).message).toContain("registry.example.test");
      expect((error as Error).message).toContain(`http://127.0.0.1:${port}/token`);
      expect(isFerryError(error) && error.hint).toContain("--insecure-registry");
      expect(JSON.stringify((error as { toJSON(): unknown }).toJSON())).not.toContain("SECRET");
      expect(tokens.requests).toEqual([]);
    },
  );

  it("a plain-http realm on another machine is refused even without credentials (no connection tried)", async () => {
    const error = await errorOf(authorize("HTTP://auth.example.test/token", { creds: false }));
    expect(isFerryError(error) && error.code).toBe("ETRUST");
    expect((error as Error).message).toContain("plain http");
  });

  it("a registry named insecure still does not get credentials sent over http to another host", async () => {
    tokens.requests.length = 0;
    const error = await errorOf(
      authorize(`HTTP://127.0.0.1:${port}/token`, { insecure: ["registry.example.test"] }),
    );
    expect(isFerryError(error) && error.code).toBe("ETRUST");
    expect((error as Error).message).toContain("another host");
    expect(tokens.requests).toEqual([]);
  });

  it("a realm host the user named insecure gets them (the escape hatch the hint names)", async () => {
    tokens.requests.length = 0;
    const header = await authorize(`HTTP://127.0.0.1:${port}/token`, { insecure: ["127.0.0.1"] });
    expect(header).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(tokens.requests).toMatchObject([{ user: "bob", authorization: true }]);
  });

  it("an anonymous token from a loopback http realm is fine", async () => {
    tokens.requests.length = 0;
    const header = await authorize(`Http://127.0.0.1:${port}/token`, { creds: false });
    expect(header).toMatch(/^Bearer /);
    expect(tokens.requests).toMatchObject([{ authorization: false }]);
  });

  it.each([
    ["ftp://127.0.0.1/token"],
    ["javascript:alert(1)"],
    ["not a url"],
    ["http://[::1/token"],
  ])("realm %j: EREGISTRY, not a crash", async (realm) => {
    const error = await errorOf(authorize(realm));
    expect(isFerryError(error) && error.code).toBe("EREGISTRY");
    expect((error as Error).message).toContain("registry.example.test");
  });
});

describe("token realms of the real registry", () => {
  let tokens: TokenServer;
  let httpsTokens: TokenServer;
  let otherHost: RunningRegistry;
  let httpsRealm: RunningRegistry;
  let tokenCa: string;
  let image: TestImage;

  beforeAll(async () => {
    const dir = await tempDir();
    // `localhost` is another host name than the registry's 127.0.0.1 (same machine, so the
    // test reaches nothing else).
    tokens = await startTokenServer({
      dir,
      users: { bob: BOB.password },
      publicRepositories: ["public/app"],
      realmHost: "localhost",
    });
    const cert = await makeCertificate(dir, "token-tls");
    tokenCa = await readFile(cert.certificate, "utf8");
    httpsTokens = await startTokenServer({
      dir: await tempDir(),
      users: { bob: BOB.password },
      realmHost: "localhost",
      tls: cert,
    });
    otherHost = await startRegistry({ auth: tokenAuth(tokens) });
    httpsRealm = await startRegistry({ auth: tokenAuth(httpsTokens) });
    image = makeImage({ layers: [randomBytes(10_000)] });
    for (const name of ["public/app", "private/app"]) {
      const token = tokens.mint([{ type: "repository", name, actions: ["pull", "push"] }]);
      await pushImage(otherHost.url, name, "1", image, `Bearer ${token}`);
    }
    const token = httpsTokens.mint([
      { type: "repository", name: "private/app", actions: ["pull", "push"] },
    ]);
    await pushImage(httpsRealm.url, "private/app", "1", image, `Bearer ${token}`);
  });

  afterAll(async () => {
    await otherHost?.stop();
    await httpsRealm?.stop();
    await tokens?.stop();
    await httpsTokens?.stop();
    await removeTempDirs();
  });

  async function trySave(ref: string, options: Partial<RegistrySessionOptions>) {
    return attemptSave([ref], { retry: { retries: 0 }, ...options });
  }

  it("credentials for a plain-http realm on another host name are not sent: ETRUST", async () => {
    tokens.requests.length = 0;
    const { error } = await trySave(`${otherHost.host}/private/app:1`, {
      credentials: explicit(),
    });
    expect(isFerryError(error) && error.code).toBe("ETRUST");
    expect((error as Error).message).toContain(tokens.realm);
    expect((error as Error).message).toContain("another host");
    expect(isFerryError(error) && error.hint).toContain(
      `--insecure-registry ${new URL(tokens.realm).host}`,
    );
    expect(tokens.requests.filter((r) => r.authorization)).toEqual([]);
  });

  it("anonymous pulls through that loopback realm still work", async () => {
    tokens.requests.length = 0;
    const { output, error } = await trySave(`${otherHost.host}/public/app:1`, {
      credentials: nobody(),
    });
    expect(error).toBeUndefined();
    await unzipAndCheck(output as string);
    expect(tokens.requests.length).toBeGreaterThan(0);
    expect(tokens.requests.every((r) => !r.authorization)).toBe(true);
  });

  it("naming the realm's host with --insecure-registry sends them", async () => {
    tokens.requests.length = 0;
    const { error } = await trySave(`${otherHost.host}/private/app:1`, {
      credentials: explicit(),
      insecureRegistries: ["localhost"],
    });
    expect(error).toBeUndefined();
    expect(tokens.requests.some((r) => r.user === "bob")).toBe(true);
  });

  it("an https realm on another host name is verified with --ca-cert", async () => {
    const untrusted = await trySave(`${httpsRealm.host}/private/app:1`, {
      credentials: explicit(),
    });
    expect(isFerryError(untrusted.error) && untrusted.error.code).toBe("ETRUST");
    expect((untrusted.error as Error).message).toContain(new URL(httpsTokens.realm).host);
    expect(httpsTokens.requests).toEqual([]);

    const { output, error } = await trySave(`${httpsRealm.host}/private/app:1`, {
      credentials: explicit(),
      caCertificates: [tokenCa],
    });
    expect(error).toBeUndefined();
    const { blobs } = await unzipAndCheck(output as string);
    expect(blobs.get(image.layers[0]?.digest ?? "")).toBe(10_000);
    expect(httpsTokens.requests).toMatchObject([{ user: "bob", authorization: true }]);
  });
});
