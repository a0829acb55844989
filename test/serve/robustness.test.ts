/**
 * ferry serve when things go wrong: damaged or planted store files, a blob removed while it is
 * being read, too many header bytes or connections, a stop while answers are under way, TLS,
 * a non-loopback address, bad flags. Each test serves its own copy of a small store.
 */

import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryAsync, run, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { makeCertificate } from "../helpers/registry.js";
import { errorCode, request, sha256 } from "./http-client.js";
import { startServe } from "./serve-process.js";

const BIG = "example.com/big/blob:1";
const SMALL = "example.com/small/app:1";
/** Larger than what loopback socket buffers hold: a paused client keeps the server mid-read. */
const BIG_BYTES = 32 * 1024 * 1024;

interface Download {
  /** Resolves with the answer's status once its first body bytes arrived (reading paused). */
  started: Promise<number>;
  /** Read on to the end: the body, and whether it came complete. */
  resume(): Promise<{ body: Buffer; complete: boolean }>;
}

/** GET `urlPath`, pausing after the first chunk until `resume()`. */
function pausedDownload(base: string, urlPath: string): Download {
  const url = new URL(base);
  const chunks: Buffer[] = [];
  let response: http.IncomingMessage | undefined;
  let onStarted: (status: number) => void = () => {};
  const started = new Promise<number>((resolve) => {
    onStarted = resolve;
  });
  const ended = new Promise<{ body: Buffer; complete: boolean }>((resolveEnd) => {
    const finish = () =>
      resolveEnd({ body: Buffer.concat(chunks), complete: response?.complete ?? false });
    const req = http.get({ host: url.hostname, port: url.port, path: urlPath, agent: false });
    req.on("error", finish);
    req.on("response", (res) => {
      response = res;
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        if (chunks.length === 1) {
          res.pause();
          onStarted(res.statusCode ?? 0);
        }
      });
      res.on("end", finish);
      res.on("error", finish);
      res.on("aborted", finish);
    });
  });
  return {
    started,
    resume: () => {
      response?.resume();
      return ended;
    },
  };
}

/** Whether a new connection to `base` is refused (the server stopped listening). */
function refused(base: string): Promise<boolean> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

describe("ferry serve: damaged stores, removals, limits, stop, TLS", () => {
  const tmp = tempDir("ferry-serve-robust-");
  const pristine = path.join(tmp.dir, "store");
  let bigLayer = "";
  let smallConfig = "";
  let smallManifest = "";
  let copies = 0;
  /** A copy of the store for one test. */
  const storeCopy = (): string => {
    const copy = path.join(tmp.dir, `copy-${++copies}`);
    cpSync(pristine, copy, { recursive: true });
    return copy;
  };
  const blobFile = (store: string, digest: string) =>
    path.join(store, "blobs", "sha256", digest.slice("sha256:".length));

  beforeAll(() => {
    const layout = createLayout(path.join(tmp.dir, "layout"));
    const big = layout.image({ layers: [randomLayer(BIG_BYTES)] });
    layout.tag(BIG, big);
    const small = layout.image({ layers: [randomLayer(1000)] });
    layout.tag(SMALL, small);
    layout.finish();
    bigLayer = big.layers[0] as string;
    smallConfig = small.config;
    smallManifest = small.digest;
    const bundle = path.join(tmp.dir, "b.zip");
    expect(ferry(["save", `oci:${layout.dir}`, "-o", bundle, "-q"]).code).toBe(0);
    expect(ferry(["load", bundle, "--store", pristine, "-q"]).code).toBe(0);
  }, 120_000);
  afterAll(() => tmp.cleanup());

  it("cuts the connection rather than finish a damaged blob, and refuses a damaged manifest", async () => {
    const store = storeCopy();
    const layerFile = blobFile(store, bigLayer);
    const bytes = readFileSync(layerFile);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(layerFile, bytes);
    const manifestFile = blobFile(store, smallManifest);
    writeFileSync(
      manifestFile,
      Buffer.concat([readFileSync(manifestFile).subarray(0, -1), Buffer.from(" ")]),
    );
    const serve = await startServe(store);
    try {
      await expect(
        request(serve.url, `/v2/example.com/big/blob/blobs/${bigLayer}`),
      ).rejects.toThrow(/cut short|socket hang up|aborted|ECONNRESET/);
      const logged = await serve.waitForEvent((e) => String(e.path).includes(bigLayer));
      expect(logged.incomplete).toBe(true);
      expect(String(logged.problem)).toContain(`blob ${bigLayer} is damaged`);

      const manifest = await request(serve.url, "/v2/example.com/small/app/manifests/1");
      expect(manifest.status).toBe(500);
      expect(errorCode(manifest)).toBe("UNKNOWN");
      expect(manifest.body.toString()).not.toContain(store);
      const problem = await serve.waitForEvent(
        (e) => e.path === "/v2/example.com/small/app/manifests/1",
      );
      expect(String(problem.problem)).toContain("[EINTEGRITY]");
    } finally {
      await serve.stop();
    }
  });

  it("answers an emptied blob file 500 without the blob's headers (digest, caching)", async () => {
    const store = storeCopy();
    writeFileSync(blobFile(store, smallConfig), "");
    const serve = await startServe(store);
    try {
      for (const method of ["GET", "HEAD"]) {
        const answer = await request(serve.url, `/v2/example.com/small/app/blobs/${smallConfig}`, {
          method,
        });
        expect(answer.status, method).toBe(500);
        expect(answer.headers["docker-content-digest"], method).toBeUndefined();
        expect(answer.headers["cache-control"], method).toBeUndefined();
        expect(answer.headers["content-type"], method).toBe("application/json");
      }
      const logged = await serve.waitForEvent((e) => String(e.path).includes(smallConfig));
      expect(String(logged.problem)).toContain(`blob ${smallConfig} is empty`);
    } finally {
      await serve.stop();
    }
  });

  it("never reads through a link planted in the blob folder", async () => {
    const store = storeCopy();
    const configFile = blobFile(store, smallConfig);
    rmSync(configFile);
    symlinkSync("/etc/passwd", configFile);
    const serve = await startServe(store);
    try {
      const answer = await request(serve.url, `/v2/example.com/small/app/blobs/${smallConfig}`);
      expect(answer.status).toBe(500);
      expect(answer.body.toString()).not.toContain("root:");
      const logged = await serve.waitForEvent((e) => String(e.path).includes(smallConfig));
      expect(String(logged.problem)).toMatch(/\[EBADSTORE\].*symbolic link/);
    } finally {
      await serve.stop();
    }
  });

  it("finishes a blob that rmi + gc remove while it is being read, then knows it is gone", async () => {
    const store = storeCopy();
    const serve = await startServe(store);
    try {
      const download = pausedDownload(serve.url, `/v2/example.com/big/blob/blobs/${bigLayer}`);
      expect(await download.started).toBe(200);
      expect(ferry(["rmi", BIG, "--store", store]).code).toBe(0);
      expect(ferry(["gc", "--store", store]).code).toBe(0);
      expect(existsSync(blobFile(store, bigLayer))).toBe(false);
      const { body, complete } = await download.resume();
      expect(complete).toBe(true);
      expect(body.length).toBe(BIG_BYTES);
      expect(sha256(body)).toBe(bigLayer);
      const after = await request(serve.url, `/v2/example.com/big/blob/blobs/${bigLayer}`);
      expect(after.status).toBe(404);
      const tag = await request(serve.url, "/v2/example.com/big/blob/manifests/1");
      expect(errorCode(tag)).toBe("NAME_UNKNOWN");
    } finally {
      await serve.stop();
    }
  });

  it("answers 431 to too many header bytes and 408-free requests go on being served", async () => {
    const serve = await startServe(pristine);
    try {
      const big = await request(serve.url, "/v2/", { headers: { "X-Filler": "x".repeat(20_000) } });
      expect(big.status).toBe(431);
      expect((await request(serve.url, "/v2/")).status).toBe(200);
      const logged = await serve.waitForEvent((e) => e.status === 431);
      expect(logged.error).toBe("HPE_HEADER_OVERFLOW");
    } finally {
      await serve.stop();
    }
  });

  it("closes connections past --max-connections at once, serving the ones it holds", async () => {
    const serve = await startServe(pristine, ["--max-connections", "2"]);
    const url = new URL(serve.url);
    /** A raw keep-alive connection and the text received on it. */
    const connect = () => {
      const socket = net.connect(Number(url.port), url.hostname);
      let received = "";
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString();
      });
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.on("error", () => {});
      const ask = (until: number) =>
        new Promise<void>((resolve) => {
          socket.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
          const check = () => {
            if (received.split("HTTP/1.1 200").length - 1 >= until) {
              socket.off("data", check);
              resolve();
            }
          };
          socket.on("data", check);
        });
      return { socket, closed, ask, received: () => received };
    };
    try {
      const first = connect();
      const second = connect();
      await first.ask(1);
      await second.ask(1);
      const third = connect();
      third.socket.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
      await third.closed;
      expect(third.received()).toBe("");
      await first.ask(2);
      first.socket.destroy();
      second.socket.destroy();
    } finally {
      await serve.stop();
    }
  });

  it("stops on SIGTERM: no new connections, the answer under way completes, exit 0", async () => {
    const serve = await startServe(pristine);
    const download = pausedDownload(serve.url, `/v2/example.com/big/blob/blobs/${bigLayer}`);
    expect(await download.started).toBe(200);
    serve.child.kill("SIGTERM");
    while (!(await refused(serve.url))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { body, complete } = await download.resume();
    expect(complete).toBe(true);
    expect(sha256(body)).toBe(bigLayer);
    const ended = await serve.done;
    expect(ended.code, ended.stderr).toBe(0);
    const events = serve.events();
    expect(events.at(-1)).toEqual({ event: "stopped", signal: "SIGTERM" });
    const logged = events.find((e) => String(e.path).includes(bigLayer));
    expect(logged?.incomplete).toBeUndefined();
    expect(logged?.bytes).toBe(BIG_BYTES);
  });

  it("serves HTTPS with --tls-cert/--tls-key, which skopeo trusts through its cert dir", async () => {
    const certs = path.join(tmp.dir, "certs");
    mkdirSync(certs, { recursive: true });
    // The key stays out of the cert dir: skopeo would take a lone KEY.key for a client key.
    const tls = path.join(tmp.dir, "tls");
    mkdirSync(tls, { recursive: true });
    const { certificate, key } = await makeCertificate(tls, "127.0.0.1");
    copyFileSync(certificate, path.join(certs, "ca.crt"));
    const serve = await startServe(pristine, [
      "--tls-cert",
      path.join(certs, "ca.crt"),
      "--tls-key",
      key,
    ]);
    try {
      expect(serve.url.startsWith("https://")).toBe(true);
      const ca = readFileSync(path.join(certs, "ca.crt"));
      const answer = await request(serve.url, "/v2/example.com/small/app/manifests/1", { ca });
      expect(answer.headers["docker-content-digest"]).toBe(smallManifest);
      const inspected = run("skopeo", [
        "inspect",
        "--cert-dir",
        certs,
        `docker://${serve.host}/example.com/small/app:1`,
      ]);
      expect(inspected.code, inspected.stderr).toBe(0);
      expect(JSON.parse(inspected.stdout).Digest).toBe(smallManifest);
    } finally {
      const ended = await serve.stop();
      expect(ended.stderr).not.toContain("warning");
    }
  });

  it("warns when it serves plain HTTP beyond loopback, logs escaped text lines", async () => {
    const serve = await startServe(pristine, ["--addr", "0.0.0.0:0"], { text: true });
    await request(serve.url, "/v2/_catalog", { headers: { "User-Agent": "evil\x9b2J\x85agent" } });
    await request(serve.url, "/v2/nothing/manifests/1");
    const ended = await serve.stop();
    expect(ended.code).toBe(0);
    expect(ended.stderr).toContain("ferry: warning: serving plain HTTP on 0.0.0.0");
    const lines = ended.stderr.split("\n");
    const catalog = lines.find((l) => l.includes('"GET /v2/_catalog" 200'));
    expect(catalog).toContain('"evil\\x9b2J\\x85agent"');
    expect(ended.stderr).not.toMatch(/[\x80-\x9f]/);
    expect(lines.find((l) => l.includes('"GET /v2/nothing/manifests/1" 404'))).toContain(
      "NAME_UNKNOWN",
    );
  });

  it("refuses bad flags, a missing store and a port in use, with their exit codes", async () => {
    const missing = ferry(["serve", "--store", path.join(tmp.dir, "nothing")]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("no ferry store");
    for (const addr of ["localhost", "1.2.3.4:99999", "::1:5000", "[nope]:1", ":5000"]) {
      const bad = ferry(["serve", "--store", pristine, "--addr", addr]);
      expect(bad.code, addr).toBe(2);
      expect(bad.stderr).toContain("--addr");
    }
    const halfTls = ferry(["serve", "--store", pristine, "--tls-cert", "/etc/hostname"]);
    expect(halfTls.code).toBe(2);
    expect(halfTls.stderr).toContain("--tls-cert and --tls-key go together");
    const garbage = path.join(tmp.dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    const badTls = ferry([
      "serve",
      "--store",
      pristine,
      "--tls-cert",
      garbage,
      "--tls-key",
      garbage,
    ]);
    expect(badTls.code).toBe(2);
    expect(badTls.stderr).toContain("--tls-cert / --tls-key cannot be used");

    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const busy = await ferryAsync(["serve", "--store", pristine, "--addr", `127.0.0.1:${port}`], {
        safetyNetMs: 60_000,
      });
      expect(busy.code).toBe(8);
      expect(busy.stderr).toContain("already in use");
    } finally {
      holder.close();
    }
  });
});
