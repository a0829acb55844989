/**
 * A registry or token service that answers with garbage gets a typed error naming it, never a
 * stack trace (issue 13): tokens with line breaks (and no header injection with them), JSON
 * `null`, HTML, malformed `Location` headers, malformed `Link` headers. The real registry sits
 * behind the fault proxy, which fabricates the hostile answers.
 */

import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../src/errors.js";
import type { CredentialLookup } from "../../src/transports/registry/credentials.js";
import { credentialLookup } from "../../src/transports/registry/credentials.js";
import { openClient, type RegistrySessionOptions } from "../../src/transports/registry/session.js";
import { startUpload } from "../../src/transports/registry/upload-session.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { makeImage, pushImage } from "../helpers/registry.js";
import {
  saveRefs,
  tempDir,
  testSession,
  withProxiedRegistry,
} from "../transports/registry/fixtures.js";

const INJECTED = "X-Injected";

/** A token service answering `body` to every request; it counts the requests. */
async function startFakeTokenService(): Promise<{
  realm: string;
  body: string;
  requests: number;
  stop(): Promise<void>;
}> {
  const state = { body: "{}", requests: 0 };
  const server: Server = createServer((request, response) => {
    state.requests++;
    request.resume();
    response.writeHead(200, { "Content-Type": "application/json" }).end(state.body);
  });
  const port = await listenOnLoopback(server);
  return Object.assign(state, {
    realm: `http://127.0.0.1:${port}/token`,
    stop: () => closeServer(server),
  });
}

function describeError(error: unknown): string {
  return isFerryError(error) ? `${error.code}: ${error.message}` : String(error);
}

describe("hostile answers from a registry and its token service", () => {
  const net = withProxiedRegistry(async (url) => {
    await pushImage(url, "app", "1", makeImage({ layers: [randomBytes(2_000)] }));
  });
  let tokens: Awaited<ReturnType<typeof startFakeTokenService>>;
  /** Headers named X-Injected that reached the proxy. */
  const injected: string[] = [];

  beforeAll(async () => {
    tokens = await startFakeTokenService();
  });
  afterAll(async () => {
    await tokens?.stop();
  });
  afterEach(() => {
    net.proxy.clear();
    injected.length = 0;
    tokens.requests = 0;
  });

  /** Every request to the proxy: 401 with a bearer challenge naming the fake token service. */
  function challengeEverything(): void {
    net.proxy.add({
      match: /^\/v2\//,
      times: Number.POSITIVE_INFINITY,
      fault: {
        kind: "respond",
        handler: (request: IncomingMessage, response) => {
          const header = request.headers[INJECTED.toLowerCase()];
          if (header !== undefined) injected.push(String(header));
          request.resume();
          response
            .writeHead(401, {
              "Content-Type": "application/json",
              "WWW-Authenticate": `Bearer realm="${tokens.realm}",service="fake"`,
            })
            .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        },
      },
    });
  }

  async function trySave(options: Partial<RegistrySessionOptions> = {}) {
    const dir = await tempDir();
    const session = await testSession(join(dir, "cache"), { retry: { retries: 0 }, ...options });
    try {
      await saveRefs(session, { refs: [`${net.proxy.host}/app:1`], output: join(dir, "o.zip") });
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await session.close();
    }
  }

  it("a token holding CR LF: EREGISTRY naming the token service, no header injected", async () => {
    challengeEverything();
    tokens.body = JSON.stringify({ token: `abc\r\n${INJECTED}: yes`, expires_in: 60 });
    const error = await trySave();
    expect(describeError(error)).toMatch(/^EREGISTRY: /);
    expect((error as Error).message).toContain(tokens.realm);
    expect((error as Error).message).toContain("not one line");
    expect(tokens.requests).toBeGreaterThan(0);
    expect(injected).toEqual([]);
  });

  it.each([
    ["null", "not an object"],
    ["[1,2]", "not an object"],
    ['"a string"', "not an object"],
    ["<html>Bad gateway</html>", "not JSON"],
    ['{"token":42}', "without a token"],
    ['{"token":"a b"}', "not one line"],
  ])("a token answer %j: EREGISTRY (%s)", async (body, words) => {
    challengeEverything();
    tokens.body = body;
    const error = await trySave();
    expect(describeError(error)).toMatch(/^EREGISTRY: /);
    expect((error as Error).message).toContain(words);
  });

  it("a registry token from a config file holding CR LF: EREGISTRY before anything is sent", async () => {
    challengeEverything();
    const credentials: CredentialLookup = {
      get: async () => ({ registryToken: `abc\r\n${INJECTED}: yes`, origin: "a test config" }),
    };
    const error = await trySave({ credentials });
    expect(describeError(error)).toMatch(/^EREGISTRY: /);
    expect((error as Error).message).toContain("Authorization");
    expect(injected).toEqual([]);
  });

  it.each([
    ["http://[oops/x", "not a URL"],
    ["file:///etc/passwd", "not an http(s) URL"],
  ])("a redirect to %j: EREGISTRY naming the registry", async (location, words) => {
    net.proxy.add({ match: /\/manifests\/1$/, fault: { kind: "redirect", location } });
    const error = await trySave();
    expect(describeError(error)).toMatch(/^EREGISTRY: /);
    expect((error as Error).message).toContain(net.proxy.host);
    expect((error as Error).message).toContain(words);
  });

  async function client() {
    return openClient(net.proxy.host, {
      credentials: credentialLookup({ useDockerConfig: false, authFile: "/nonexistent" }),
      retry: { retries: 0 },
      certsDir: await tempDir(),
    });
  }

  function answer(match: RegExp, status: number, body: string, headers = {}): void {
    net.proxy.add({
      match,
      fault: {
        kind: "respond",
        handler: (request, response) => {
          request.resume();
          response.writeHead(status, { "Content-Type": "application/json", ...headers }).end(body);
        },
      },
    });
  }

  it.each([["null"], ["[]"], ["<html>oops</html>"]])(
    "a tag list %j: EREGISTRY naming the repository",
    async (body) => {
      answer(/\/tags\/list/, 200, body);
      const registry = await client();
      try {
        const error = await registry.listTags("app").catch((e: unknown) => e);
        expect(describeError(error)).toMatch(/^EREGISTRY: /);
        expect((error as Error).message).toContain(`${net.proxy.host}/app`);
      } finally {
        registry.close();
      }
    },
  );

  it("a malformed Link header ends the listing instead of throwing", async () => {
    answer(/\/tags\/list/, 200, '{"tags":["1"]}', { Link: '<http://[bad>; rel="next"' });
    const registry = await client();
    try {
      expect(await registry.listTags("app")).toEqual(["1"]);
    } finally {
      registry.close();
    }
  });

  it("an upload session at a malformed Location: EREGISTRY", async () => {
    answer(/\/blobs\/uploads\/$/, 202, "", { Location: "http://[oops/upload" });
    const registry = await client();
    try {
      const error = await startUpload(registry, "app", "blob sha256:x").catch((e: unknown) => e);
      expect(describeError(error)).toMatch(/^EREGISTRY: /);
      expect((error as Error).message).toContain("blob sha256:x");
    } finally {
      registry.close();
    }
  });
});
