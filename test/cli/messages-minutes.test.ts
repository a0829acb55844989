/**
 * Issue 19, "messages that cost minutes" (second part): each mistake gets a message naming what
 * is wrong and what to do, with its documented exit code.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, tempDir } from "../helpers/cli.js";
import { makeSourceTree } from "../helpers/wimtools.js";
import { containerStore, installWim, makeOsWim } from "../ops/wim-store-helpers.js";

const tmp = tempDir("ferry-messages-minutes-");
afterAll(() => tmp.cleanup());

describe("history, inspect and export take OS image names as every command does", () => {
  const store = path.join(tmp.dir, "os-store");
  const full = "os.ferry.invalid/nanoserver:10.0.17763.1";
  beforeAll(async () => {
    containerStore(store);
    const tree = await makeSourceTree(path.join(tmp.dir, "tree"));
    await installWim(store, await makeOsWim(tmp.dir, tree, "NanoServer", "10.0.17763.1"));
  });

  it("inspect: a short name, the CN= full name and a digest prefix name the OS image", () => {
    for (const name of ["nanoserver:10.0.17763.1", "CN=Microsoft_NanoServer_10.0.17763.1"]) {
      const { code, json } = ferryJson<{ ref: string; digest: string }>([
        "inspect",
        name,
        "--store",
        store,
      ]);
      expect(code).toBe(0);
      expect(json.ref).toBe(full);
    }
    const digest = ferryJson<{ digest: string }>(["inspect", full, "--store", store]).json.digest;
    const byDigest = ferryJson<{ ref: string }>(["inspect", digest.slice(7, 19), "--store", store]);
    expect(byDigest.code).toBe(0);
    expect(byDigest.json.ref).toBe(full);
  });

  it("history: the short name and the CN= name are found (not 'has no image named')", () => {
    for (const name of ["NanoServer:10.0.17763.1", "cn=Microsoft_NanoServer_10.0.17763.1"]) {
      const result = ferry(["history", name, "--store", store, "--json"]);
      expect(result.stderr).not.toContain("has no image named");
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).ref).toBe(full);
    }
  });

  it("export: the OS image is found, then refused for what it is (EUSAGE, exit 2)", () => {
    const result = ferry([
      "export",
      "CN=Microsoft_NanoServer_10.0.17763.1",
      "--store",
      store,
      "--to",
      `docker-archive:${path.join(tmp.dir, "os.tar")}`,
    ]);
    expect(result.stderr).not.toContain("has no image named");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`nothing to write to ${path.join(tmp.dir, "os.tar")}: ${full}`);
  });

  it("a name that is in no form in the store is still ENOTFOUND (exit 4)", () => {
    const result = ferry(["inspect", "nanoserver:1.2.3.4", "--store", store]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("[ENOTFOUND]");
  });
});
