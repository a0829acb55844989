/**
 * Issue 19, "messages that cost minutes": each mistake a new user makes gets a message that
 * names what is wrong and what to do, with its documented exit code.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, repoRoot, tempDir } from "../helpers/cli.js";

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
