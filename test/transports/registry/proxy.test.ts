/**
 * Registry traffic through a real HTTP proxy (tinyproxy): the registry API and blob downloads
 * (node:http and the raw blob client), token realms and foreign-layer URLs; plain http as
 * absolute-form requests, https through CONNECT tunnels with TLS to the registry inside them;
 * NO_PROXY and loopback exemptions; a proxy that asks for Basic credentials. The proxy's own
 * log proves what went through it.
 */

import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import type { RegistrySessionOptions } from "../../../src/transports/registry/session.js";
import { type ProxyConfig, proxyConfigFrom } from "../../../src/types/proxy.js";
import { closeServer, listenOnLoopback } from "../../helpers/loopback.js";
import {
  candidatePort,
  hasTinyproxy,
  type RunningProxy,
  startProxy,
} from "../../helpers/proxy-daemon.js";
import {
  makeCertificate,
  makeImage,
  pushImage,
  type RunningRegistry,
  skopeoCopy,
  startRegistry,
  type TestImage,
} from "../../helpers/registry.js";
import { startTokenServer, type TokenServer, tokenAuth } from "../../helpers/token-server.js";
import { attemptSave, removeTempDirs, tempDir } from "./fixtures.js";

/** A proxy config from environment variables, with loopback included (every test host is). */
function fromEnv(env: NodeJS.ProcessEnv): ProxyConfig {
  return { ...proxyConfigFrom(env), loopback: true };
}

describe.skipIf(!hasTinyproxy)("registries through an HTTP proxy (tinyproxy)", () => {
  let plain: RunningRegistry;
  let secure: RunningRegistry;
  let tokenRegistry: RunningRegistry;
  let tokens: TokenServer;
  let open: RunningProxy;
  let guarded: RunningProxy;
  let foreignServer: Server;
  let foreignPort: number;
  let ca: string;
  let image: TestImage;
  let legacy: TestImage;
  const foreignBytes = randomBytes(150_000);
  const AUTH = { user: "proxyuser", password: "Pr0xy-Secret-77" };

  beforeAll(async () => {
    const dir = await tempDir();
    const cert = await makeCertificate(dir, "registry");
    ca = await readFile(cert.certificate, "utf8");
    [plain, secure, open, guarded] = await Promise.all([
      startRegistry(),
      startRegistry({ tls: cert }),
      startProxy(),
      startProxy({ auth: AUTH }),
    ]);
    tokens = await startTokenServer({ dir, users: {}, publicRepositories: ["public/app"] });
    tokenRegistry = await startRegistry({ auth: tokenAuth(tokens) });
    foreignServer = createServer((_request, response) => {
      response.writeHead(200, { "Content-Length": foreignBytes.length });
      response.end(foreignBytes);
    });
    foreignPort = await listenOnLoopback(foreignServer);
    // Big enough that the raw client's buffers fill and reading pauses and resumes.
    image = makeImage({ layers: [randomBytes(3 * 1024 * 1024), randomBytes(20_000)] });
    legacy = makeImage({
      docker: true,
      platform: { os: "windows", architecture: "amd64" },
      foreign: [{ bytes: foreignBytes, urls: [`http://127.0.0.1:${foreignPort}/base.tar.gz`] }],
      layers: [randomBytes(5_000)],
    });
    await pushImage(plain.url, "apps/one", "1", image);
    await pushImage(plain.url, "windows/legacy", "1", legacy);
    // The TLS registry is filled by skopeo (the reference tooling) from the plain one.
    await skopeoCopy(`docker://${plain.host}/apps/one:1`, `docker://${secure.host}/apps/one:1`);
    const token = tokens.mint([
      { type: "repository", name: "public/app", actions: ["pull", "push"] },
    ]);
    await pushImage(tokenRegistry.url, "public/app", "1", image, `Bearer ${token}`);
  });

  afterAll(async () => {
    await closeServer(foreignServer);
    await Promise.all([
      plain?.stop(),
      secure?.stop(),
      tokenRegistry?.stop(),
      tokens?.stop(),
      open?.stop(),
      guarded?.stop(),
    ]);
    await removeTempDirs();
  });

  /** Save one reference with these session options; the error, if any, is returned. */
  async function attempt(ref: string, options: Partial<RegistrySessionOptions>) {
    return attemptSave([ref], options, { platforms: "all", check: true });
  }

  /** The proxy's request lines naming a host:port, logged after `before` lines. */
  async function linesFor(proxy: RunningProxy, hostPort: string, before = 0): Promise<string[]> {
    return (await proxy.requests()).slice(before).filter((line) => line.includes(hostPort));
  }

  it("plain http: the API and every blob go to the proxy as absolute-form requests", async () => {
    const { report, blobs, error } = await attempt(`${plain.host}/apps/one:1`, {
      proxy: proxyConfigFrom({}, open.url),
    });
    expect(error).toBeUndefined();
    expect(report?.images[0]?.digest).toBe(image.digest);
    const lines = await linesFor(open, plain.host);
    expect(lines).toContain(`GET http://${plain.host}/v2/ HTTP/1.1`);
    expect(lines).toContain(`GET http://${plain.host}/v2/apps/one/manifests/1 HTTP/1.1`);
    for (const layer of image.layers) {
      expect(blobs?.get(layer.digest)).toBe(layer.size);
      expect(lines).toContain(
        `GET http://${plain.host}/v2/apps/one/blobs/${layer.digest} HTTP/1.1`,
      );
    }
  });

  it("https: CONNECT tunnels, TLS verified end to end against the registry's CA", async () => {
    const before = (await open.requests()).length;
    const untrusted = await attempt(`${secure.host}/apps/one:1`, {
      proxy: proxyConfigFrom({}, open.url),
    });
    // The proxy does not make the registry trusted: its certificate is checked inside the tunnel.
    expect(isFerryError(untrusted.error) && untrusted.error.code).toBe("ETRUST");
    const { report, blobs, error } = await attempt(`${secure.host}/apps/one:1`, {
      proxy: proxyConfigFrom({}, open.url),
      caCertificates: [ca],
    });
    expect(error).toBeUndefined();
    expect(report?.images[0]?.digest).toBe(image.digest);
    for (const layer of image.layers) expect(blobs?.get(layer.digest)).toBe(layer.size);
    const lines = await linesFor(open, secure.host, before);
    expect(lines.length).toBeGreaterThan(0);
    expect(new Set(lines)).toEqual(new Set([`CONNECT ${secure.host} HTTP/1.1`]));
  });

  it("HTTP_PROXY and HTTPS_PROXY from the environment; NO_PROXY exempts a host:port", async () => {
    const via = await attempt(`${plain.host}/apps/one:1`, {
      // Lower-case first, as curl reads them.
      proxy: fromEnv({ http_proxy: open.url, HTTP_PROXY: "http://127.0.0.1:1" }),
    });
    expect(via.error).toBeUndefined();
    const before = (await open.requests()).length;
    const exempt = await attempt(`${plain.host}/apps/one:1`, {
      proxy: fromEnv({ HTTP_PROXY: open.url, NO_PROXY: `example.com, ${plain.host}` }),
    });
    expect(exempt.error).toBeUndefined();
    expect(await linesFor(open, plain.host, before)).toEqual([]);
    const cidr = await attempt(`${plain.host}/apps/one:1`, {
      proxy: fromEnv({ HTTP_PROXY: open.url, no_proxy: "127.0.0.0/8" }),
    });
    expect(cidr.error).toBeUndefined();
    expect(await linesFor(open, plain.host, before)).toEqual([]);
  });

  it("loopback registries never go through a proxy from the environment", async () => {
    const before = (await open.requests()).length;
    const { error } = await attempt(`${plain.host}/apps/one:1`, {
      proxy: proxyConfigFrom({ HTTP_PROXY: open.url, HTTPS_PROXY: open.url }),
    });
    expect(error).toBeUndefined();
    expect(await linesFor(open, plain.host, before)).toEqual([]);
  });

  it("token realms and foreign-layer URLs go through the proxy too", async () => {
    const realm = new URL(tokens.realm);
    const token = await attempt(`${tokenRegistry.host}/public/app:1`, {
      proxy: proxyConfigFrom({}, open.url),
    });
    expect(token.error).toBeUndefined();
    const realmLines = await linesFor(open, realm.host);
    expect(realmLines.some((l) => l.startsWith(`GET http://${realm.host}${realm.pathname}?`))).toBe(
      true,
    );
    const foreign = await attempt(`${plain.host}/windows/legacy:1`, {
      proxy: proxyConfigFrom({}, open.url),
    });
    expect(foreign.error).toBeUndefined();
    expect(await linesFor(open, `127.0.0.1:${foreignPort}`)).toContain(
      `GET http://127.0.0.1:${foreignPort}/base.tar.gz HTTP/1.1`,
    );
  });

  it("a proxy that asks for Basic credentials: given in the URL they work, for http and https", async () => {
    const proxy = proxyConfigFrom({}, guarded.urlWithCredentials);
    const http = await attempt(`${plain.host}/apps/one:1`, { proxy });
    expect(http.error).toBeUndefined();
    const https = await attempt(`${secure.host}/apps/one:1`, { proxy, caCertificates: [ca] });
    expect(https.error).toBeUndefined();
    const lines = await guarded.requests();
    expect(lines).toContain(`CONNECT ${secure.host} HTTP/1.1`);
    expect(lines).toContain(`GET http://${plain.host}/v2/ HTTP/1.1`);
  });

  it("a proxy that asks for credentials, none given: ENETWORK naming the proxy (407)", async () => {
    for (const registry of [plain, secure]) {
      const { error } = await attempt(`${registry.host}/apps/one:1`, {
        proxy: proxyConfigFrom({}, guarded.url),
        caCertificates: [ca],
      });
      expect(isFerryError(error) && error.code).toBe("ENETWORK");
      expect((error as Error).message).toContain(
        `the proxy http://127.0.0.1:${guarded.port} (--proxy) asks for a user name and password (HTTP 407`,
      );
      expect(isFerryError(error) && error.hint).toContain("USER:PASSWORD@ before the host");
    }
  });

  it("a proxy that refuses the password: ENETWORK naming the proxy, the password nowhere", async () => {
    // tinyproxy answers wrong credentials with 401 (not 407): for a CONNECT that is clearly the
    // proxy's answer; for plain http it cannot be told from the server's, so https is tested.
    const { error } = await attempt(`${secure.host}/apps/one:1`, {
      proxy: proxyConfigFrom({}, `http://${AUTH.user}:Wrong-Secret-99@127.0.0.1:${guarded.port}`),
      caCertificates: [ca],
    });
    expect(isFerryError(error) && error.code).toBe("ENETWORK");
    const message = (error as Error).message;
    expect(message).toContain(
      `the proxy http://127.0.0.1:${guarded.port} (--proxy) did not accept the user name and password`,
    );
    const everything = JSON.stringify({
      message,
      hint: isFerryError(error) && error.hint,
      json: (error as { toJSON(): unknown }).toJSON(),
    });
    expect(everything).not.toContain("Wrong-Secret-99");
    expect(everything).not.toContain(AUTH.user);
  });

  it("a proxy that is not there: ENETWORK naming the proxy (not the registry), no password", async () => {
    const port = await candidatePort();
    for (const registry of [plain, secure]) {
      const { error } = await attempt(`${registry.host}/apps/one:1`, {
        proxy: proxyConfigFrom({}, `http://someone:Gone-Secret-55@127.0.0.1:${port}`),
        retry: { retries: 1, baseDelayMs: 10, maxDelayMs: 10 },
      });
      expect(isFerryError(error) && error.code).toBe("ENETWORK");
      const message = (error as Error).message;
      expect(message).toContain(`via the proxy http://127.0.0.1:${port} (--proxy)`);
      expect(message).toContain("refused the connection");
      expect(JSON.stringify((error as { toJSON(): unknown }).toJSON())).not.toContain(
        "Gone-Secret-55",
      );
    }
  });
});
