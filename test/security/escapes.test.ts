import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryAsync, tempDir } from "../helpers/cli.js";
import { forgeImage } from "../helpers/corpus/forge-bundle.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import {
  hasWimtools,
  makeSourceTree,
  setImageProperties,
  wimAppend,
  wimCapture,
  windowsVersion,
} from "../helpers/wimtools.js";
import { imageWithConfig, writeBundle } from "./hostile-images.js";
import { HOSTILE, rawControls } from "./terminal.js";

/**
 * Text from outside reaches the terminal with its control characters escaped: tags and error
 * texts from a registry, ferry.json fields, image names in bundles and in the store, config
 * history, WIM image names, and references that do not parse. Each case prints HOSTILE (an
 * OSC title change, a screen clear, a C1 CSI, a right-to-left override and a forged line) and
 * checks that no raw control character comes out, that the forged line does not start a line,
 * and that --json carries the exact value with nothing raw either.
 */

/** How HOSTILE reads once escaped. */
const SHOWN = "a\\x1b]0;pwned\\x07b\\x1b[2Jc\\x9b31md\\u202eevil\\nferry: forged line";

const tmp = tempDir("ferry-escapes-");
afterAll(() => tmp.cleanup());

function expectSafe(output: { stdout: string; stderr: string }): void {
  expect(rawControls(output.stdout)).toEqual([]);
  expect(rawControls(output.stderr)).toEqual([]);
  expect(`${output.stdout}\n${output.stderr}`).not.toMatch(/^ferry: forged line/m);
}

describe("a registry's tag list and error texts", () => {
  let server: http.Server;
  let host = "";

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      const json = (status: number, body: unknown) => {
        response.writeHead(status, { "Content-Type": "application/json" });
        response.end(JSON.stringify(body));
      };
      if (request.url === "/v2/") json(200, {});
      else if (request.url?.startsWith("/v2/evil/app/tags/list"))
        json(200, { name: "evil/app", tags: ["1.0", HOSTILE, "ok_2", " spaced"] });
      else json(404, { errors: [{ code: HOSTILE, message: HOSTILE }] });
    });
    host = `127.0.0.1:${await listenOnLoopback(server)}`;
  });
  afterAll(() => closeServer(server));

  const env = () => ({ HOME: tmp.dir, FERRY_AUTH_FILE: path.join(tmp.dir, "auth.json") });

  it("tags: lists the valid tags only and names the others, escaped, in a notice", async () => {
    const run = await ferryAsync(["tags", `${host}/evil/app`], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expectSafe(run);
    expect(run.stdout.trim().split("\n")).toEqual(["1.0", "ok_2"]);
    expect(run.stderr).toContain("skipped 2 name(s)");
    expect(run.stderr).toContain("not valid tags");
    expect(run.stderr).toContain('" spaced"');
  });

  it("tags --json: the same values, exact, with nothing raw in the text", async () => {
    const run = await ferryAsync(["tags", `${host}/evil/app`, "--json"], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expectSafe(run);
    const listing = JSON.parse(run.stdout) as { tags: string[]; invalid: string[] };
    expect(listing.tags).toEqual(["1.0", "ok_2"]);
    expect(listing.invalid).toEqual([HOSTILE, " spaced"]);
  });

  it("a registry error code is quoted escaped, on the error's own line", async () => {
    const run = await ferryAsync(["tags", `${host}/evil/err`], { env: env() });
    expect(run.code).toBe(4);
    expectSafe(run);
    expect(run.stderr).toContain(SHOWN);
  });
});

describe("a bundle's ferry.json fields and image names", () => {
  it("inspect shows tool, id and created escaped, and --json carries them exactly", () => {
    const bundle = writeBundle(
      path.join(tmp.dir, "fields.zip"),
      [forgeImage("forged.example/app:1", [Buffer.from("layer")])],
      {
        editFerry: (doc) => {
          doc.tool = HOSTILE;
          doc.id = `id-${HOSTILE}`;
          doc.created = HOSTILE;
        },
      },
    );
    const inspect = ferry(["inspect", bundle]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expectSafe(inspect);
    expect(inspect.stdout).toContain(`by ${SHOWN}`);
    expect(inspect.stdout).toContain(`id:       id-${SHOWN}`);
    const json = ferry(["inspect", bundle, "--json"]);
    expectSafe(json);
    expect(JSON.parse(json.stdout)).toMatchObject({ tool: HOSTILE, id: `id-${HOSTILE}` });
  });

  it("an image name that is not a reference is refused, and quoted escaped", () => {
    const bundle = writeBundle(path.join(tmp.dir, "ref.zip"), [
      forgeImage(`forged.example/app:${HOSTILE}`, [Buffer.from("layer")]),
    ]);
    const store = path.join(tmp.dir, "ref-store");
    const load = ferry(["load", bundle, "--store", store]);
    expect(load.code).toBe(3);
    expect(load.stderr).toContain("[EBADBUNDLE]");
    expectSafe(load);
    for (const args of [
      ["verify", bundle],
      ["inspect", bundle],
      ["verify", bundle, "--json"],
    ]) {
      const run = ferry(args);
      expectSafe(run);
      expect(`${run.stdout}${run.stderr}`).toContain("is not a full image reference");
    }
  });
});

describe("what the store holds", () => {
  const store = path.join(tmp.dir, "store");

  beforeAll(() => {
    const bundle = writeBundle(path.join(tmp.dir, "history.zip"), [
      imageWithConfig("forged.example/hist:1", {
        created: "2026-01-01T00:00:00Z",
        history: [{ created: "2026-01-01T00:00:00Z", created_by: HOSTILE, comment: HOSTILE }],
      }),
    ]);
    const load = ferry(["load", bundle, "--store", store]);
    expect(load.code, load.stderr).toBe(0);
  });

  it("history --no-trunc shows a config's created_by and comment escaped", () => {
    const args = ["history", "forged.example/hist:1", "--no-trunc", "--store", store];
    const history = ferry(args);
    expect(history.code, history.stderr).toBe(0);
    expectSafe(history);
    expect(history.stdout).toContain(SHOWN);
    const json = ferry([...args, "--json"]);
    expectSafe(json);
    expect(JSON.parse(json.stdout).rows[0].createdBy).toBe(HOSTILE);
  });

  it("inspect of a stored image prints its config escaped", () => {
    const inspect = ferry(["inspect", "forged.example/hist:1", "--store", store]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expectSafe(inspect);
  });

  it("a ref name in the store's index.json is shown escaped, on its own row", () => {
    const indexFile = path.join(store, "index.json");
    const index = JSON.parse(readFileSync(indexFile, "utf8"));
    const entry = index.manifests[0];
    index.manifests.push({
      ...entry,
      annotations: { "org.opencontainers.image.ref.name": `evil${HOSTILE}:1` },
    });
    writeFileSync(indexFile, JSON.stringify(index));
    const images = ferry(["images", "--store", store]);
    expect(images.code, images.stderr).toBe(0);
    expectSafe(images);
    expect(images.stdout.trim().split("\n")).toHaveLength(3);
    expect(images.stdout).toContain(`evil${SHOWN}`);
    const json = ferry(["images", "--store", store, "--json"]);
    expectSafe(json);
    expect(JSON.parse(json.stdout).map((i: { ref: string }) => i.ref)).toContain(
      `evil${HOSTILE}:1`,
    );
  });
});

describe("references that do not parse", () => {
  it("a reference on the command line is quoted escaped", () => {
    const run = ferry(["pull", `alpine:${HOSTILE}`, "--store", path.join(tmp.dir, "none")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("[EBADREF]");
    expectSafe(run);
  });

  it("a reference in an image list is quoted escaped", () => {
    const list = path.join(tmp.dir, "images.yaml");
    writeFileSync(list, `images:\n  - ${JSON.stringify(`example.com/app:${HOSTILE}`)}\n`);
    const run = ferry(["save", "-f", list, "-o", path.join(tmp.dir, "never.zip")]);
    expect(run.code).toBe(2);
    expectSafe(run);
    expect(run.stderr).toContain(SHOWN);
  });
});

describe.skipIf(!hasWimtools)("WIM image names", () => {
  const dir = path.join(tmp.dir, "wim");
  const wim = path.join(dir, "nano.wim");
  const bundle = path.join(dir, "os.zip");
  const store = path.join(dir, "store");

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    const tree = await makeSourceTree(path.join(dir, "tree"));
    await wimCapture(tree, wim, "NanoServer", { compress: "none" });
    const version = windowsVersion("10.0.14393.1");
    await setImageProperties(wim, 1, version);
    // wimlib writes the name into the XML as it is (and cannot read the WIM back itself).
    await wimAppend(tree, wim, `Utility${HOSTILE}`);
  });

  it("wim info, save, inspect, load and images print them escaped", () => {
    const info = ferry(["wim", "info", wim]);
    expect(info.code, info.stderr).toBe(0);
    expectSafe(info);
    expect(info.stdout).toContain(`Utility${SHOWN}`);
    const save = ferry(["save", `wim:${wim}`, "-o", bundle]);
    expect(save.code, save.stderr).toBe(0);
    expectSafe(save);
    const inspect = ferry(["inspect", bundle]);
    expectSafe(inspect);
    expect(inspect.stdout).toContain(`Utility${SHOWN}`);
    const load = ferry(["load", bundle, "--store", store]);
    expect(load.code, load.stderr).toBe(0);
    expectSafe(load);
    expect(load.stdout).toContain(`Utility${SHOWN}`);
    expectSafe(ferry(["images", "--store", store]));
    const json = ferry(["images", "--store", store, "--os", "--json"]);
    expectSafe(json);
    expect(JSON.parse(json.stdout)[0].os.images).toEqual(["NanoServer", `Utility${HOSTILE}`]);
  });
});
