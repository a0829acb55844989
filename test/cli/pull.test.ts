import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AsyncRun, ferryAsync } from "../helpers/cli.js";
import {
  makeImage,
  makeIndex,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImage,
} from "../helpers/registry.js";

const USER = { name: "carol", password: "pa55:word!" };

/** ferry in a child process (the registries answer from this one), `input` on its stdin. */
function ferry(args: string[], env: NodeJS.ProcessEnv, input = ""): Promise<AsyncRun> {
  return ferryAsync(args, { env, input });
}

describe("ferry pull, login, logout, tags, cache (CLI)", () => {
  let open: RunningRegistry;
  let locked: RunningRegistry;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let multi: TestImage;
  const basic = `Basic ${Buffer.from(`${USER.name}:${USER.password}`).toString("base64")}`;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-cli-pull-"));
    env = {
      HOME: work,
      FERRY_AUTH_FILE: join(work, "auth", "auth.json"),
      DOCKER_CONFIG: join(work, "docker"),
      FERRY_CACHE: join(work, "cache"),
      FERRY_STORE: join(work, "store"),
    };
    open = await startRegistry();
    locked = await startRegistry({ auth: { htpasswd: { users: { [USER.name]: USER.password } } } });
    multi = makeIndex([
      makeImage({
        platform: { os: "linux", architecture: "amd64" },
        layers: [randomBytes(300_000)],
      }),
      makeImage({
        platform: { os: "linux", architecture: "arm64" },
        layers: [randomBytes(300_000)],
      }),
    ]);
    await pushImage(open.url, "team/app", "1.0", multi);
    await pushImage(open.url, "team/app", "1.1", multi.children[0] as TestImage);
    await pushImage(locked.url, "secret/app", "1", makeImage(), basic);
  });

  afterAll(async () => {
    await open?.stop();
    await locked?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /**
   * A test's own store, download cache and credentials: nothing another test pulled or logged
   * in is there, so any test runs alone (`-t`) or in any order.
   */
  const own = (name: string): NodeJS.ProcessEnv => ({
    ...env,
    FERRY_AUTH_FILE: join(work, name, "auth", "auth.json"),
    FERRY_CACHE: join(work, name, "cache"),
    FERRY_STORE: join(work, name, "store"),
  });

  it("pulls into the store (this machine's platform), then finds it unchanged", async () => {
    const env = own("pull");
    const first = await ferry(["pull", `${open.host}/team/app:1.0`, "--json"], env);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.images[0]).toMatchObject({
      ref: `${open.host}/team/app:1.0`,
      status: "new",
      digest: multi.children[0]?.digest,
      platforms: ["linux/amd64"],
      sourceIndexDigest: multi.digest,
    });
    expect(report.transfer.blobsDownloaded).toBe(2);

    const images = await ferry(["images", "--json"], env);
    expect(
      JSON.parse(images.stdout).map(
        (i: { repository: string; tag: string }) => `${i.repository}:${i.tag}`,
      ),
    ).toContain(`${open.host}/team/app:1.0`);

    const again = await ferry(["pull", `docker://${open.host}/team/app:1.0`], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/platform linux\/amd64 \(this machine's/);
    expect(again.stdout).toMatch(/unchanged/);
    expect(again.stdout).toMatch(/downloaded 0B \(0 blobs\), 1 blobs .* from the download cache/);
  });

  it("--platform all keeps the whole index", async () => {
    const env = own("all");
    const run = await ferry(
      [
        "pull",
        `${open.host}/team/app:1.0`,
        "--platform",
        "all",
        "--json",
        "--store",
        join(work, "all", "s2"),
      ],
      env,
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).images[0]).toMatchObject({
      digest: multi.digest,
      platforms: ["linux/amd64", "linux/arm64"],
    });
  });

  it("login keeps a 0600 auth file that pull then uses; logout forgets it", async () => {
    const env = own("login");
    const denied = await ferry(["pull", `${locked.host}/secret/app:1`], env);
    expect(denied.code).toBe(5);
    expect(denied.stderr).toMatch(/EUNAUTHORIZED/);
    expect(denied.stderr).toContain(`ferry login ${locked.host}`);

    const wrong = await ferry(
      ["login", locked.host, "-u", USER.name, "--password-stdin"],
      env,
      "nope\n",
    );
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).not.toContain("nope");

    const login = await ferry(
      ["login", locked.host, "-u", USER.name, "--password-stdin"],
      env,
      `${USER.password}\n`,
    );
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(/login succeeded/);
    expect(login.stdout + login.stderr).not.toContain(USER.password);
    expect((await stat(env.FERRY_AUTH_FILE as string)).mode & 0o777).toBe(0o600);

    const pulled = await ferry(["pull", `${locked.host}/secret/app:1`, "--json"], env);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).not.toContain(USER.password);
    const log = await readFile(join(env.FERRY_STORE as string, ".ferry", "log.jsonl"), "utf8");
    expect(log).not.toContain(USER.password);
    expect(log).not.toContain(Buffer.from(`${USER.name}:${USER.password}`).toString("base64"));

    const logout = await ferry(["logout", locked.host], env);
    expect(logout.stdout).toMatch(/removed the credentials/);
    const after = await ferry(["pull", `${locked.host}/secret/app:1`], env);
    expect(after.code).toBe(5);

    const viaCreds = await ferry(
      ["pull", `${locked.host}/secret/app:1`, "--creds", `${USER.name}:${USER.password}`, "-q"],
      env,
    );
    expect(viaCreds.code).toBe(0);
  });

  it("lists tags", async () => {
    const env = own("tags");
    const run = await ferry(["tags", `${open.host}/team/app`, "--json"], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      repository: `${open.host}/team/app`,
      tags: ["1.0", "1.1"],
    });
  });

  it("lists and prunes the download cache", async () => {
    const env = own("cache");
    const pulled = await ferry(["pull", `${open.host}/team/app:1.0`, "-q"], env);
    expect(pulled.code, pulled.stderr).toBe(0);
    const ls = await ferry(["cache", "ls", "--json"], env);
    expect(ls.code).toBe(0);
    const listing = JSON.parse(ls.stdout);
    // What the pull fetched: the amd64 manifest's config and its one layer.
    expect(listing.blobs.length).toBe(2);
    const kept = await ferry(["cache", "prune"], env);
    expect(kept.stdout).toMatch(/removed 0 entries/);
    const pruned = await ferry(["cache", "prune", "--all", "--json"], env);
    expect(JSON.parse(pruned.stdout).removed).toBe(listing.blobs.length + listing.partials.length);
    expect(JSON.parse((await ferry(["cache", "ls", "--json"], env)).stdout).blobs).toEqual([]);
  });
});
