/**
 * Issue 19, "messages that cost minutes": each mistake a new user makes gets a message that
 * names what is wrong and what to do, with its documented exit code.
 */
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ferry,
  ferryAsync,
  ferryJson,
  repoRoot,
  tempDir,
  twoImageDockerArchive,
} from "../helpers/cli.js";
import { type RunningRegistry, startRegistry } from "../helpers/registry.js";
import { makeSourceTree, wimCapture } from "../helpers/wimtools.js";

const tmp = tempDir("ferry-messages-");
afterAll(() => tmp.cleanup());
const sampleLayout = path.join(repoRoot, "samples", "oci");

describe("ferry images says which store it read, and refuses a folder that is not one", () => {
  const store = path.join(tmp.dir, "store");
  beforeAll(() => {
    const bundle = path.join(tmp.dir, "sample.zip");
    expect(ferry(["save", `oci:${sampleLayout}`, "-o", bundle]).code).toBe(0);
    expect(ferry(["load", bundle, "--store", store]).code).toBe(0);
  });

  it("names the store on a header line (stderr) and in every --json entry", () => {
    const table = ferry(["images", "--store", store]);
    expect(table.code).toBe(0);
    expect(table.stderr.split("\n")[0]).toBe(`store: ${store}`);
    expect(table.stdout.split("\n")[0]).toMatch(/^REPOSITORY\s+TAG/);
    const { code, json } = ferryJson<Array<{ store: string }>>(["images", "--store", store]);
    expect(code).toBe(0);
    expect(json.length).toBeGreaterThan(0);
    expect(json.every((image) => image.store === store)).toBe(true);
  });

  it("the default store (FERRY_STORE) is named too", () => {
    const result = ferry(["images"], { env: { FERRY_STORE: store } });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`store: ${store}`);
  });

  it("a missing --store folder is an error naming it (ENOTFOUND, exit 4), not an empty table", () => {
    const typo = path.join(tmp.dir, "typo-store");
    const result = ferry(["images", "--store", typo]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("[ENOTFOUND]");
    expect(result.stderr).toContain(`store ${typo} (from --store) does not exist`);
    expect(result.stdout).toBe("");
  });

  it("a folder that is not a store is an error saying so (exit 4)", () => {
    const other = path.join(tmp.dir, "documents");
    mkdirSync(other);
    writeFileSync(path.join(other, "notes.txt"), "not images\n");
    const result = ferry(["images", "--store", other]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`${other} (from --store) is not a ferry store`);
    expect(result.stderr).toMatch(/hint: .*oci-layout/);
    const fromEnv = ferry(["images"], { env: { FERRY_STORE: other } });
    expect(fromEnv.code).toBe(4);
    expect(fromEnv.stderr).toContain("(from FERRY_STORE) is not a ferry store");
  });

  it("an empty folder is a store with nothing loaded yet", () => {
    const empty = path.join(tmp.dir, "new-store");
    mkdirSync(empty);
    const result = ferry(["images", "--store", empty]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`store: ${empty} (not created yet: nothing loaded)`);
  });
});

describe("registry messages", () => {
  const ALICE = { name: "alice", password: "right-pass" };
  let locked: RunningRegistry;
  const env = (name: string): NodeJS.ProcessEnv => ({
    HOME: path.join(tmp.dir, name),
    FERRY_AUTH_FILE: path.join(tmp.dir, name, "auth.json"),
    DOCKER_CONFIG: path.join(tmp.dir, name, "docker"),
    FERRY_CACHE: path.join(tmp.dir, name, "cache"),
  });
  beforeAll(async () => {
    locked = await startRegistry({
      auth: { htpasswd: { users: { [ALICE.name]: ALICE.password } } },
    });
  });
  afterAll(async () => {
    await locked?.stop();
  });

  it("wrong --creds: the registry rejected the credentials for user alice (EUNAUTHORIZED, exit 5)", async () => {
    const result = await ferryAsync(
      ["tags", `${locked.host}/team/app`, "--creds", "alice:wrong-secret"],
      { env: env("wrong-creds") },
    );
    expect(result.code).toBe(5);
    expect(result.stderr).toContain("[EUNAUTHORIZED]");
    expect(result.stderr).toContain(`${locked.host} rejected the credentials for user alice`);
    expect(result.stderr).toMatch(
      /hint: check the user name and password given on the command line/,
    );
    expect(result.stderr).not.toContain("log in with ferry login");
    expect(result.stderr).not.toContain("wrong-secret");
  });

  it("wrong password to ferry login: rejected for that user (exit 5)", async () => {
    const result = await ferryAsync(["login", locked.host, "-u", "alice", "--password-stdin"], {
      env: env("wrong-login"),
      input: "wrong-secret\n",
    });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain("rejected the credentials for user alice");
    expect(result.stderr).not.toContain("wrong-secret");
  });

  it("nothing listening: connection refused to HOST:PORT, each retry shown, check host and port (ENETWORK, exit 9)", async () => {
    const port = await unusedPort();
    const result = await ferryAsync(["tags", `127.0.0.1:${port}/x`], { env: env("refused") });
    expect(result.code).toBe(9);
    const retries = result.stderr.split("\n").filter((line) => /; retry \d of 5 in /.test(line));
    expect(retries).toHaveLength(5);
    expect(retries[0]).toContain(`connection refused to 127.0.0.1:${port}; retry 1 of 5 in `);
    expect(result.stderr).toContain(
      `[ENETWORK]: https://127.0.0.1:${port}/v2/: connection refused to 127.0.0.1:${port} (gave up after 6 attempts)`,
    );
    expect(result.stderr).toMatch(/hint: .*check the host and port/);
  });
});

/** A loopback port nothing listens on: bound by the system, then closed. */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("files given where something else is expected", () => {
  it("ferry load FILE.wim: says it is a WIM and shows the save command (EUSAGE, exit 2)", async () => {
    const tree = await makeSourceTree(path.join(tmp.dir, "wim-tree"));
    const wim = await wimCapture(tree, path.join(tmp.dir, "NanoServer.wim"), "NanoServer");
    const store = path.join(tmp.dir, "wim-store");
    const result = ferry(["load", wim, "--store", store]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `[EUSAGE]: ${wim} is a WIM file (a Windows OS image), not a ferry bundle`,
    );
    expect(result.stderr).toContain(
      `hint: make a bundle of it first: ferry save ${wim} -o NanoServer.zip, then ferry load NanoServer.zip`,
    );
    expect(result.stderr).not.toMatch(/truncated|copy it again/);
    expect(existsSync(store)).toBe(false);
  });

  it("save ../dir (an OCI layout folder): a path, use oci:DIR (EUSAGE, exit 2)", () => {
    const cwd = path.join(tmp.dir, "cwd");
    mkdirSync(cwd, { recursive: true });
    cpSync(sampleLayout, path.join(tmp.dir, "layout"), { recursive: true });
    const result = ferry(["save", "../layout", "-o", "x.zip"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "[EUSAGE]: ../layout is a path to a folder holding an OCI layout, not a registry reference",
    );
    expect(result.stderr).toContain("hint: use oci:../layout");
    expect(result.stderr).not.toContain("invalid registry");
  });

  it("save ./plain-folder: a path, names the prefixes to choose from (exit 2)", () => {
    const cwd = path.join(tmp.dir, "cwd2");
    mkdirSync(path.join(cwd, "dir"), { recursive: true });
    const result = ferry(["save", "./dir", "-o", "x.zip"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("./dir is a path, not a registry reference");
    expect(result.stderr).toMatch(/hint: .*oci:PATH .*oci-archive:PATH .*docker-archive:PATH/);
  });

  it("save ./missing.tar: no such file, a path (ENOTFOUND, exit 4)", () => {
    const result = ferry(["save", "./missing.tar", "-o", path.join(tmp.dir, "x.zip")]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(
      "[ENOTFOUND]: ./missing.tar: no such file or folder (a path, not a registry reference)",
    );
  });

  it("search ./dir that does not exist: the folder does not exist (ENOTFOUND, exit 4), not 'invalid registry'", () => {
    const result = ferry(["search", "./no-such-dir"], { cwd: tmp.dir });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("[ENOTFOUND]: folder ./no-such-dir does not exist");
    expect(result.stderr).not.toContain("invalid registry");
  });

  it("a missing oci: folder and a missing docker-archive: file get the same exit code (ENOTFOUND, 4)", () => {
    const layout = ferry([
      "save",
      `oci:${path.join(tmp.dir, "no-layout")}`,
      "-o",
      path.join(tmp.dir, "y.zip"),
    ]);
    const archive = ferry([
      "save",
      `docker-archive:${path.join(tmp.dir, "no.tar")}`,
      "-o",
      path.join(tmp.dir, "y.zip"),
    ]);
    expect(layout.stderr).toContain("[ENOTFOUND]");
    expect(archive.stderr).toContain("[ENOTFOUND]");
    expect([layout.code, archive.code]).toEqual([4, 4]);
  });
});

describe("docker-archive:FILE@N, as the help writes it", () => {
  it("FILE@1 and FILE:@1 both pick the second image of manifest.json", () => {
    const archive = path.join(tmp.dir, "two.tar");
    twoImageDockerArchive(archive);
    expect(ferry(["--help"]).stdout + ferry(["save", "--help"]).stdout).toContain(
      "docker-archive:FILE[:REF|@N]",
    );
    for (const text of [`docker-archive:${archive}@1`, `docker-archive:${archive}:@1`]) {
      const { code, json } = ferryJson<{ images: Array<{ ref: string }> }>([
        "save",
        text,
        "-o",
        path.join(tmp.dir, `at-${text.endsWith(":@1") ? "colon" : "plain"}.zip`),
      ]);
      expect(code).toBe(0);
      expect(json.images.map((image) => image.ref)).toEqual(["example.com/second/app:2"]);
    }
  });
});
