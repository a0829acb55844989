/**
 * `ferry save` through a real proxy (tinyproxy) and with corporate CAs, as a user runs it:
 * `--proxy` with Basic credentials for a registry and for WIM URLs (http and https), the
 * environment's proxies, NODE_EXTRA_CA_CERTS kept when --ca-cert is given, --ca-cert for WIM
 * URLs, and proxy passwords in no output.
 */

import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AsyncRun, ferryAsync } from "../helpers/cli.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { hasTinyproxy, type RunningProxy, startProxy } from "../helpers/proxy-daemon.js";
import {
  makeCertificate,
  makeImage,
  pushImage,
  type RunningRegistry,
  skopeoCopy,
  startRegistry,
  type TestImage,
} from "../helpers/registry.js";
import { captureWindows, hasWimtools, makeSourceTree } from "../helpers/wimtools.js";

/** Run the built CLI without blocking this process (its test servers must keep answering). */
function ferry(args: string[], env: NodeJS.ProcessEnv = {}): Promise<AsyncRun> {
  return ferryAsync(args, {
    env: {
      HTTPS_PROXY: "",
      HTTP_PROXY: "",
      https_proxy: "",
      http_proxy: "",
      NO_PROXY: "",
      no_proxy: "",
      NODE_EXTRA_CA_CERTS: "",
      ...env,
    },
  });
}

describe.skipIf(!hasTinyproxy || !hasWimtools)(
  "ferry save through a proxy, with corporate CAs (CLI)",
  () => {
    const AUTH = { user: "ferry", password: "Corp-Proxy-Pass-31" };
    let work: string;
    let plain: RunningRegistry;
    let secure: RunningRegistry;
    let proxy: RunningProxy;
    let image: TestImage;
    let wimHttp: Server;
    let wimHttps: Server;
    let wimHttpUrl: string;
    let wimHttpsUrl: string;
    /** The CA of the TLS registry and the https WIM server ("the corporate root"). */
    let corporateCa: string;
    /** A CA that signs nothing used here. */
    let otherCa: string;
    let cacheEnv: NodeJS.ProcessEnv;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), "ferry-cli-proxy-"));
      cacheEnv = {
        FERRY_CACHE: join(work, "cache"),
        FERRY_AUTH_FILE: join(work, "auth.json"),
        HOME: work,
      };
      const server = await makeCertificate(work, "corporate");
      corporateCa = server.certificate;
      otherCa = (await makeCertificate(work, "other")).certificate;
      [plain, secure, proxy] = await Promise.all([
        startRegistry(),
        startRegistry({ tls: server }),
        startProxy({ auth: AUTH }),
      ]);
      image = makeImage({ layers: [randomBytes(2 * 1024 * 1024), randomBytes(10_000)] });
      await pushImage(plain.url, "apps/one", "1", image);
      await skopeoCopy(`docker://${plain.host}/apps/one:1`, `docker://${secure.host}/apps/one:1`);
      const tree = await makeSourceTree(join(work, "tree"), { fileCount: 2, fileBytes: 40_000 });
      const wimFile = await captureWindows(
        tree,
        join(work, "nano.wim"),
        "NanoServer",
        "10.0.20348.2113",
      );
      const wim = await readFile(wimFile);
      const serveWim: RequestListener = (request, response) => {
        if (request.url === "/os/nano.wim") {
          response.writeHead(200, { "Content-Length": wim.length });
          response.end(wim);
        } else {
          response.writeHead(404).end();
        }
      };
      wimHttp = createHttpServer(serveWim);
      wimHttps = createHttpsServer(
        { cert: await readFile(server.certificate), key: await readFile(server.key) },
        serveWim,
      );
      wimHttpUrl = `http://127.0.0.1:${await listenOnLoopback(wimHttp)}/os/nano.wim`;
      wimHttpsUrl = `https://127.0.0.1:${await listenOnLoopback(wimHttps)}/os/nano.wim`;
    });

    afterAll(async () => {
      for (const server of [wimHttp, wimHttps]) await closeServer(server);
      await Promise.all([plain?.stop(), secure?.stop(), proxy?.stop()]);
      await rm(work, { recursive: true, force: true });
    });

    const output = (name: string): string =>
      join(work, `${name}-${randomBytes(4).toString("hex")}.zip`);
    /** `ferry save SOURCE... -o FRESH.zip FLAGS...`, FRESH a new file named for `name`. */
    const save = (
      source: string | string[],
      name: string,
      flags: string[],
      env: NodeJS.ProcessEnv,
    ): Promise<AsyncRun> => ferry(["save", ...[source].flat(), "-o", output(name), ...flags], env);
    const proxyWithPassword = (): string => proxy.urlWithCredentials;

    it("--proxy with credentials: the registry API and its blobs go through it; no password printed", async () => {
      const run = await save(
        `${plain.host}/apps/one:1`,
        "reg",
        ["--proxy", proxyWithPassword(), "--json"],
        cacheEnv,
      );
      expect(run.stderr).not.toContain(AUTH.password);
      expect(run.stdout).not.toContain(AUTH.password);
      expect(run.code).toBe(0);
      const lines = await proxy.requests();
      expect(lines).toContain(`GET http://${plain.host}/v2/ HTTP/1.1`);
      for (const layer of image.layers) {
        expect(lines).toContain(
          `GET http://${plain.host}/v2/apps/one/blobs/${layer.digest} HTTP/1.1`,
        );
      }
    });

    it("WIM URLs go through --proxy: http as an absolute-form GET, https through CONNECT with --ca-cert", async () => {
      const http = await save(wimHttpUrl, "wim-http", ["--proxy", proxyWithPassword()], cacheEnv);
      expect(http.stderr).not.toContain(AUTH.password);
      expect(http.code).toBe(0);
      const https = await save(
        wimHttpsUrl,
        "wim-https",
        ["--proxy", proxyWithPassword(), "--ca-cert", corporateCa],
        cacheEnv,
      );
      expect(https.stderr).not.toContain(AUTH.password);
      expect(https.code).toBe(0);
      const lines = await proxy.requests();
      expect(lines).toContain(`GET ${wimHttpUrl} HTTP/1.1`);
      expect(lines).toContain(`CONNECT ${new URL(wimHttpsUrl).host} HTTP/1.1`);
    });

    it("--ca-cert is applied to WIM URLs (an unknown CA is ETRUST, with a hint)", async () => {
      const untrusted = await save(wimHttpsUrl, "wim-untrusted", [], cacheEnv);
      expect(untrusted.code).toBe(6);
      expect(untrusted.stderr).toContain(`downloading ${wimHttpsUrl} failed`);
      expect(untrusted.stderr).toContain("--ca-cert");
      const trusted = await save(wimHttpsUrl, "wim-trusted", ["--ca-cert", corporateCa], cacheEnv);
      expect(trusted.code).toBe(0);
    });

    it("--ca-cert adds to NODE_EXTRA_CA_CERTS instead of replacing it (registry and WIM URL)", async () => {
      const env = { ...cacheEnv, NODE_EXTRA_CA_CERTS: corporateCa };
      const registry = await save(
        `${secure.host}/apps/one:1`,
        "extra-reg",
        ["--ca-cert", otherCa],
        env,
      );
      expect(registry.stderr).not.toContain("ETRUST");
      expect(registry.code).toBe(0);
      const wim = await save(wimHttpsUrl, "extra-wim", ["--ca-cert", otherCa], env);
      expect(wim.code).toBe(0);
    });

    it("a CA in ~/.docker/certs.d/HOST/ca.crt is trusted, and does not drop NODE_EXTRA_CA_CERTS", async () => {
      const home = await mkdtemp(join(work, "home-"));
      const hostDir = join(home, ".docker", "certs.d", secure.host);
      await mkdir(hostDir, { recursive: true });
      await copyFile(corporateCa, join(hostDir, "ca.crt"));
      const env = { ...cacheEnv, HOME: home };
      const fromCertsD = await save(`${secure.host}/apps/one:1`, "certsd", [], env);
      expect(fromCertsD.code).toBe(0);
      // certs.d holds an unrelated CA for the host; the registry's CA comes from NODE_EXTRA_CA_CERTS.
      await copyFile(otherCa, join(hostDir, "ca.crt"));
      const both = await save(`${secure.host}/apps/one:1`, "certsd-extra", [], {
        ...env,
        NODE_EXTRA_CA_CERTS: corporateCa,
      });
      expect(both.code).toBe(0);
    });

    it("loopback hosts do not go through a proxy from the environment", async () => {
      const before = (await proxy.requests()).length;
      const run = await save([`${plain.host}/apps/one:1`, wimHttpUrl], "env", [], {
        ...cacheEnv,
        HTTPS_PROXY: proxyWithPassword(),
        HTTP_PROXY: proxyWithPassword(),
      });
      expect(run.code).toBe(0);
      expect((await proxy.requests()).slice(before)).toEqual([]);
    });

    it("a proxy refusing the password: ENETWORK naming the proxy, the password in no output (--json too)", async () => {
      const wrong = `http://${AUTH.user}:Not-The-Pass-8@127.0.0.1:${proxy.port}`;
      const run = await save(
        `${secure.host}/apps/one:1`,
        "wrong",
        ["--proxy", wrong, "--ca-cert", corporateCa, "--json"],
        cacheEnv,
      );
      expect(run.code).toBe(9);
      expect(run.stderr).toContain(`the proxy http://127.0.0.1:${proxy.port} (--proxy)`);
      expect(JSON.parse(run.stdout).error.code).toBe("ENETWORK");
      expect(`${run.stdout}${run.stderr}`).not.toContain("Not-The-Pass-8");
    });

    it("an unusable proxy URL is a usage error naming where it came from, without its password", async () => {
      const flag = await save(
        `${plain.host}/apps/one:1`,
        "bad",
        ["--proxy", "socks5://u:Socks-Pass-4@127.0.0.1:1080"],
        cacheEnv,
      );
      expect(flag.code).toBe(2);
      expect(flag.stderr).toContain("--proxy: socks5:// proxies are not supported");
      expect(flag.stderr).not.toContain("Socks-Pass-4");
      const env = await save(`${plain.host}/apps/one:1`, "bad-env", [], {
        ...cacheEnv,
        https_proxy: "socks5://u:Socks-Pass-4@127.0.0.1:1080",
      });
      expect(env.code).toBe(2);
      expect(env.stderr).toContain("https_proxy: socks5:// proxies are not supported");
      expect(env.stderr).not.toContain("Socks-Pass-4");
    });

    it("tags (a command without downloads) honours --proxy too", async () => {
      const run = await ferry(
        ["tags", `${plain.host}/apps/one`, "--proxy", proxyWithPassword()],
        cacheEnv,
      );
      expect(run.code).toBe(0);
      const lines = await proxy.requests();
      expect(
        lines.some((l) => l.startsWith(`GET http://${plain.host}/v2/apps/one/tags/list`)),
      ).toBe(true);
    });
  },
);
