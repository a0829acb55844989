/**
 * URLs are printed without their secrets (issue 13): user info and query strings (signed
 * storage URLs carry their tokens there) are removed from every URL in a message, a hint,
 * error details, --json and notes, whoever wrote the text (Node's own error messages quote
 * whole URLs).
 */

import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FerryError, isFerryError } from "../../src/errors.js";
import { RegistryError } from "../../src/transports/registry/errors.js";
import { redactUrl, redactUrlsIn } from "../../src/types/url.js";
import { ferryAsync } from "../helpers/cli.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { makeImage, pushImage, sha256 } from "../helpers/registry.js";
import {
  saveRefs,
  tempDir,
  testSession,
  withProxiedRegistry,
} from "../transports/registry/fixtures.js";

describe("redactUrl and redactUrlsIn", () => {
  it.each([
    ["https://user:pw@host.example/a/b.wim?sig=x#frag", "https://host.example/a/b.wim"],
    ["HTTP://USER:PW@Host.Example:8080/a?X-Amz-Signature=s", "http://host.example:8080/a"],
    ["http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/"],
    ["not a url", "(invalid URL)"],
  ])("redactUrl(%j) = %j", (input, output) => {
    expect(redactUrl(input)).toBe(output);
    if (output !== "(invalid URL)") expect(redactUrl(new URL(input))).toBe(output);
  });

  it.each([
    [
      "fetch http://user:pass@127.0.0.1:/dir/x.wim?sig=SECRET failed",
      "fetch http://127.0.0.1:/dir/x.wim failed",
    ],
    ["GET HTTPS://a:b@h/p?t=1 and http://c@h2/q#f.", "GET HTTPS://h/p and http://h2/q"],
    ['{"url":"https://h/p?token=SECRET"}', '{"url":"https://h/p"}'],
    ["<a href='http://u:p@h/x?y=z'>", "<a href='http://h/x'>"],
    ["http://u:p@[::1]:5000\\x?y", "http://[::1]:5000\\x"],
    ["docker://alpine@sha256:abc and oci:/a?b", "docker://alpine@sha256:abc and oci:/a?b"],
    ["no url here: user:pass@host", "no url here: user:pass@host"],
  ])("redactUrlsIn(%j)", (input, output) => {
    expect(redactUrlsIn(input)).toBe(output);
  });
});

describe("errors never carry URL secrets", () => {
  it("message, hint, details and toJSON of any FerryError", () => {
    const error = new FerryError(
      "ENETWORK",
      "downloading http://u:PASSWORD@h/x.wim?sig=SECRET failed",
      {
        hint: "try https://u:PASSWORD@h/y?sig=SECRET again",
        details: { url: "https://h/z?sig=SECRET", nested: [{ at: "http://u:PASSWORD@h/" }], n: 3 },
      },
    );
    const everything = JSON.stringify({
      message: error.message,
      hint: error.hint,
      json: error.toJSON(),
    });
    expect(everything).not.toContain("SECRET");
    expect(everything).not.toContain("PASSWORD");
    expect(error.message).toBe("downloading http://h/x.wim failed");
    expect(error.details).toEqual({ url: "https://h/z", nested: [{ at: "http://h/" }], n: 3 });
  });

  it("a registry error and an internal one quoting a Node error (its stack too)", () => {
    const registry = new RegistryError(
      "EREGISTRY",
      "Invalid URL: http://u:PASSWORD@h:/x?sig=SECRET",
    );
    const nodeError = new TypeError("Invalid URL: https://u:PASSWORD@host/?sig=SECRET");
    const internal = new FerryError("EINTERNAL", nodeError.stack ?? nodeError.message);
    for (const error of [registry, internal]) {
      expect(error.message).not.toContain("SECRET");
      expect(error.message).not.toContain("PASSWORD");
    }
  });
});

/** The CLI's exit code and all it printed (a server here must answer it: not blocking). */
async function runFerry(args: string[]): Promise<{ code: number; output: string }> {
  const run = await ferryAsync(args);
  return { code: run.code ?? -1, output: run.stdout + run.stderr };
}

describe("the CLI prints WIM URLs without their secrets", () => {
  let server: Server;
  let base: string;
  let work: string;
  beforeAll(async () => {
    work = await tempDir();
    server = createServer((request, response) => {
      request.resume();
      response.writeHead(404).end("not here");
    });
    base = `127.0.0.1:${await listenOnLoopback(server)}`;
  });
  afterAll(() => closeServer(server));

  it("a URL with user:password: EUSAGE, and neither the password nor the query appear (--json)", async () => {
    const url = `http://someone:PASSWORD@${base}/dir/nano.wim?sig=SECRET`;
    const { code, output } = await runFerry([
      "save",
      url,
      "-o",
      join(work, "a.zip"),
      "--json",
      "--progress",
      "json",
    ]);
    expect(code).toBe(2);
    expect(output).toContain(`http://${base}/dir/nano.wim`);
    expect(output).not.toContain("PASSWORD");
    expect(output).not.toContain("SECRET");
  });

  it("a signed URL the server refuses: the error names it without the signature", async () => {
    const { code, output } = await runFerry([
      "save",
      `HTTP://${base}/dir/nano.wim?se=2030&sig=SECRET`,
      "-o",
      join(work, "b.zip"),
    ]);
    expect(code).toBe(4);
    expect(output).toContain(`http://${base}/dir/nano.wim`);
    expect(output).not.toContain("SECRET");
  });
});

describe("foreign-layer URLs are named without their secrets", () => {
  const foreign = randomBytes(3_000);
  let storage: Server;
  let storageHost: string;
  const storageRequests: string[] = [];
  const net = withProxiedRegistry(async () => {});

  beforeAll(async () => {
    storage = createServer((request, response) => {
      storageRequests.push(request.url ?? "");
      request.resume();
      response.writeHead(403).end("signature expired");
    });
    storageHost = `127.0.0.1:${await listenOnLoopback(storage)}`;
    const image = makeImage({
      foreign: [
        {
          bytes: foreign,
          urls: [
            `http://user:PASSWORD@${storageHost}/with-userinfo`,
            `http://${storageHost}/layer.tar.gz?sv=1&sig=SECRET`,
          ],
        },
      ],
    });
    await pushImage(net.registry.url, "win/app", "1", image);
  });
  afterAll(() => closeServer(storage));

  it("the error and the notes name the URL without its query; a URL with user info is never used", async () => {
    const dir = await tempDir();
    const notes: string[] = [];
    const session = await testSession(join(dir, "cache"), {
      retry: { retries: 0 },
      onNote: (text) => notes.push(text),
    });
    let error: unknown;
    try {
      await saveRefs(session, {
        refs: [`${net.proxy.host}/win/app:1`],
        output: join(dir, "o.zip"),
      });
    } catch (caught) {
      error = caught;
    } finally {
      await session.close();
    }
    expect(isFerryError(error)).toBe(true);
    const everything = JSON.stringify({
      message: (error as Error).message,
      json: (error as { toJSON(): unknown }).toJSON(),
      notes,
    });
    expect(everything).toContain(`http://${storageHost}/layer.tar.gz`);
    expect(everything).toContain(sha256(foreign));
    expect(everything).not.toContain("SECRET");
    expect(everything).not.toContain("PASSWORD");
    expect(storageRequests).toEqual(["/layer.tar.gz?sv=1&sig=SECRET"]);
  });
});
