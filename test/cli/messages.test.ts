/**
 * Issue 19, "messages that cost minutes": each mistake a new user makes gets a message that
 * names what is wrong and what to do, with its documented exit code.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryAsync, ferryJson, repoRoot, tempDir } from "../helpers/cli.js";
import { type RunningRegistry, startRegistry } from "../helpers/registry.js";

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
