import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import { login, logout } from "../../../src/ops/registry-login.js";
import { searchCatalog } from "../../../src/ops/registry-search.js";
import { credentialLookup } from "../../../src/transports/registry/credentials.js";
import type { RegistrySessionOptions } from "../../../src/transports/registry/session.js";
import { type FaultProxy, startFaultProxy } from "../../helpers/fault-proxy.js";
import { closeServer, listenOnLoopback } from "../../helpers/loopback.js";
import {
  makeImage,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImage,
} from "../../helpers/registry.js";
import { startTokenServer, type TokenServer, tokenAuth } from "../../helpers/token-server.js";
import { attemptSave, removeTempDirs, tempDir } from "./fixtures.js";

const ALICE = { username: "alice", password: "s3cret:with-colon" };
const BOB = { username: "bob", password: "t0ken-pass" };
const basic = (u: { username: string; password: string }) =>
  `Basic ${Buffer.from(`${u.username}:${u.password}`).toString("base64")}`;

describe("registry authentication against the real registry", () => {
  let basicRegistry: RunningRegistry;
  let tokenRegistry: RunningRegistry;
  let tokens: TokenServer;
  let proxy: FaultProxy;
  let image: TestImage;
  let workDir: string;

  beforeAll(async () => {
    workDir = await tempDir();
    basicRegistry = await startRegistry({
      auth: { htpasswd: { users: { [ALICE.username]: ALICE.password } } },
    });
    tokens = await startTokenServer({
      dir: workDir,
      users: { [BOB.username]: BOB.password },
      refreshTokens: { "refresh-123": BOB.username },
      publicRepositories: ["public/app"],
    });
    tokenRegistry = await startRegistry({ auth: tokenAuth(tokens) });
    proxy = await startFaultProxy(basicRegistry.url);
    image = makeImage({ layers: [randomBytes(100_000), randomBytes(5_000)] });
    await pushImage(basicRegistry.url, "private/app", "1", image, basic(ALICE));
    for (const name of ["public/app", "private/app"]) {
      const token = tokens.mint([{ type: "repository", name, actions: ["pull", "push"] }]);
      await pushImage(tokenRegistry.url, name, "1", image, `Bearer ${token}`);
    }
  });

  afterAll(async () => {
    await proxy?.stop();
    await basicRegistry?.stop();
    await tokenRegistry?.stop();
    await tokens?.stop();
    await removeTempDirs();
  });

  async function trySave(ref: string, credentials: Partial<RegistrySessionOptions>) {
    return attemptSave([ref], credentials, { check: true });
  }

  /** Credentials from a docker config folder `name` holding `config` (and no ferry auth file). */
  async function dockerConfig(name: string, config: unknown, env: NodeJS.ProcessEnv = {}) {
    const dockerDir = join(workDir, name);
    await mkdir(dockerDir, { recursive: true });
    await writeFile(join(dockerDir, "config.json"), JSON.stringify(config));
    return {
      credentials: credentialLookup({
        env: { DOCKER_CONFIG: dockerDir, ...env },
        authFile: "/nonexistent",
      }),
    };
  }

  const explicit = (u: { username: string; password: string }) => ({
    credentials: credentialLookup({
      explicit: u,
      useDockerConfig: false,
      authFile: "/nonexistent",
    }),
  });

  describe("htpasswd (Basic)", () => {
    it("without credentials: EUNAUTHORIZED naming the registry, with a hint to log in", async () => {
      const { error } = await trySave(`${basicRegistry.host}/private/app:1`, {});
      expect(isFerryError(error) && error.code).toBe("EUNAUTHORIZED");
      expect((error as Error).message).toContain(`${basicRegistry.host}/private/app:1`);
      expect(isFerryError(error) && error.hint).toContain(`ferry login ${basicRegistry.host}`);
    });

    it("with --creds: saved", async () => {
      const { report, error } = await trySave(
        `${basicRegistry.host}/private/app:1`,
        explicit(ALICE),
      );
      expect(error).toBeUndefined();
      expect(report?.images[0]?.digest).toBe(image.digest);
    });

    it("a wrong password: EUNAUTHORIZED, and the password appears nowhere in the error", async () => {
      const wrong = { username: ALICE.username, password: "not-the-password-42" };
      const { error } = await trySave(`${basicRegistry.host}/private/app:1`, explicit(wrong));
      expect(isFerryError(error) && error.code).toBe("EUNAUTHORIZED");
      const everything = JSON.stringify({
        ...(error as Error),
        message: (error as Error).message,
        json: (error as { toJSON(): unknown }).toJSON(),
      });
      expect(everything).not.toContain("not-the-password-42");
      expect(everything).not.toContain(
        Buffer.from(`${wrong.username}:${wrong.password}`).toString("base64"),
      );
    });

    it("credentials from the docker config file (DOCKER_CONFIG auths)", async () => {
      const fromConfig = await dockerConfig("docker-a", {
        auths: {
          [`http://${basicRegistry.host}`]: {
            auth: Buffer.from(`${ALICE.username}:${ALICE.password}`).toString("base64"),
          },
        },
      });
      const { error } = await trySave(`${basicRegistry.host}/private/app:1`, fromConfig);
      expect(error).toBeUndefined();
    });

    it("credentials from a docker-credential-* helper (credsStore)", async () => {
      const bin = join(workDir, "bin");
      await mkdir(bin, { recursive: true });
      const helper = join(bin, "docker-credential-ferrytest");
      await writeFile(
        helper,
        `#!/bin/sh\nread server\nif [ "$1" = get ] && [ "$server" = "${basicRegistry.host}" ]; then\n  printf '{"ServerURL":"%s","Username":"${ALICE.username}","Secret":"${ALICE.password}"}' "$server"\nelse\n  echo "credentials not found in native keychain"; exit 1\nfi\n`,
      );
      await chmod(helper, 0o755);
      const fromHelper = await dockerConfig(
        "docker-helper",
        { credsStore: "ferrytest" },
        { PATH: `${bin}:${process.env.PATH}` },
      );
      const { error } = await trySave(`${basicRegistry.host}/private/app:1`, fromHelper);
      expect(error).toBeUndefined();
    });

    it("login checks the credentials and writes a 0600 docker-format auth file; logout removes them", async () => {
      const authFile = join(workDir, "login", "auth.json");
      const bad = await login({
        registry: basicRegistry.host,
        username: ALICE.username,
        password: "wrong",
        authFile,
        client: {},
      }).catch((e: unknown) => e);
      expect(isFerryError(bad) && bad.code).toBe("EUNAUTHORIZED");
      await expect(stat(authFile)).rejects.toThrow();

      const report = await login({ registry: basicRegistry.host, ...ALICE, authFile, client: {} });
      expect(report).toMatchObject({
        registry: basicRegistry.host,
        storedIn: authFile,
        scheme: "basic",
      });
      expect((await stat(authFile)).mode & 0o777).toBe(0o600);
      const saved = JSON.parse(await readFile(authFile, "utf8"));
      expect(Buffer.from(saved.auths[basicRegistry.host].auth, "base64").toString()).toBe(
        `${ALICE.username}:${ALICE.password}`,
      );

      const { error } = await trySave(`${basicRegistry.host}/private/app:1`, {
        credentials: credentialLookup({ authFile, useDockerConfig: false }),
      });
      expect(error).toBeUndefined();

      const out = await logout({ registry: basicRegistry.host, authFile });
      expect(out.removedFrom).toEqual([authFile]);
      expect(JSON.parse(await readFile(authFile, "utf8")).auths).toEqual({});
    });

    it("a blob redirect to another host never carries the credentials", async () => {
      const blob = image.layers[0]?.digest ?? "";
      const content = image.blobs.get(blob) as Buffer;
      let sawAuthorization: boolean | undefined;
      const storage: Server = createServer((request, response) => {
        sawAuthorization = request.headers.authorization !== undefined;
        response.writeHead(200, { "Content-Length": content.length }).end(content);
      });
      const port = await listenOnLoopback(storage);
      proxy.add({
        match: new RegExp(`/blobs/${blob}$`),
        fault: {
          kind: "redirect",
          location: `http://localhost:${port}/storage/${blob}?X-Signature=abc`,
        },
      });
      try {
        const { error } = await trySave(`${proxy.host}/private/app:1`, explicit(ALICE));
        expect(error).toBeUndefined();
        expect(sawAuthorization).toBe(false);
        expect(proxy.requests.find((r) => r.path.endsWith(blob))?.authorized).toBe(true);
      } finally {
        proxy.clear();
        await closeServer(storage);
      }
    });
  });

  describe("token auth (the Docker Hub flow)", () => {
    it("anonymous bearer tokens pull a public repository", async () => {
      tokens.requests.length = 0;
      const { error } = await trySave(`${tokenRegistry.host}/public/app:1`, {});
      expect(error).toBeUndefined();
      expect(tokens.requests.length).toBeGreaterThan(0);
      expect(tokens.requests.every((r) => r.user === undefined)).toBe(true);
    });

    it("a private repository without credentials: EUNAUTHORIZED", async () => {
      const { error } = await trySave(`${tokenRegistry.host}/private/app:1`, {});
      expect(isFerryError(error) && error.code).toBe("EUNAUTHORIZED");
      expect((error as Error).message).toContain(`${tokenRegistry.host}/private/app:1`);
    });

    it("with credentials: one token per scope, reused for every request", async () => {
      tokens.requests.length = 0;
      const { session, error } = await trySave(
        `${tokenRegistry.host}/private/app:1`,
        explicit(BOB),
      );
      expect(error).toBeUndefined();
      const forScope = tokens.requests.filter((r) =>
        r.scopes.includes("repository:private/app:pull"),
      );
      expect(forScope).toHaveLength(1);
      expect(forScope[0]?.user).toBe("bob");
      const client = await session.client(tokenRegistry.host);
      expect(client.requestsSent).toBeGreaterThan(4);
    });

    it("wrong credentials: the token service refuses them (EUNAUTHORIZED, no secret in the message)", async () => {
      const { error } = await trySave(
        `${tokenRegistry.host}/private/app:1`,
        explicit({ username: "bob", password: "nope-nope-77" }),
      );
      expect(isFerryError(error) && error.code).toBe("EUNAUTHORIZED");
      expect((error as Error).message).toContain("bob");
      expect((error as Error).message).not.toContain("nope-nope-77");
    });

    it("an identity token from the docker config is exchanged with a refresh-token POST", async () => {
      const fromConfig = await dockerConfig("docker-identity", {
        auths: {
          [tokenRegistry.host]: {
            auth: Buffer.from("<token>:").toString("base64"),
            identitytoken: "refresh-123",
          },
        },
      });
      tokens.requests.length = 0;
      const { error } = await trySave(`${tokenRegistry.host}/private/app:1`, fromConfig);
      expect(error).toBeUndefined();
      expect(tokens.requests.some((r) => r.method === "POST" && r.grant === "refresh_token")).toBe(
        true,
      );
    });

    it("a token the registry no longer accepts is renewed when it answers 401", async () => {
      tokens.options.expiredTokens = 1;
      tokens.requests.length = 0;
      const { error } = await trySave(`${tokenRegistry.host}/private/app:1`, explicit(BOB));
      expect(error).toBeUndefined();
      expect(tokens.options.expiredTokens).toBe(0);
      expect(
        tokens.requests.filter((r) => r.scopes.includes("repository:private/app:pull")),
      ).toHaveLength(2);
    });

    it("login gets a token with the credentials; the catalog asks for registry:catalog:*", async () => {
      const authFile = join(workDir, "login-token", "auth.json");
      const report = await login({ registry: tokenRegistry.host, ...BOB, authFile, client: {} });
      expect(report.scheme).toBe("bearer");
      const found = await searchCatalog(tokenRegistry.host, {
        credentials: credentialLookup({ authFile, useDockerConfig: false }),
      });
      expect(found.repositories).toEqual(["private/app", "public/app"]);
      expect(tokens.requests.some((r) => r.scopes.includes("registry:catalog:*"))).toBe(true);
    });
  });
});
