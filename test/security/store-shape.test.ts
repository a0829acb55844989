/**
 * The store's shape (issue 13): a store whose files or folders are not what ferry keeps there
 * (index.json a folder, blobs/sha256 a file, a folder replaced by a link, oci-layout missing,
 * files that do not parse) gives a typed error with a hint, never EINTERNAL; and what ferry
 * creates in a store has the modes docs/store-format.md gives, whatever the umask.
 */

import {
  cpSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryBin, type RunResult, repoRoot, run, tempDir } from "../helpers/cli.js";

const samples = path.join(repoRoot, "samples", "oci");

function expectTyped(result: RunResult, code: string, message: string): void {
  expect(result.stderr).not.toContain("EINTERNAL");
  expect(result.code, result.stderr).toBe(3);
  expect(result.stderr).toContain(`ferry: error [${code}]: ${message}`);
  expect(result.stderr).toMatch(/\nhint: \S/);
}

describe("a store that is not the shape ferry keeps", () => {
  const tmp = tempDir("ferry-shape-");
  const pristine = path.join(tmp.dir, "pristine");
  const bundle = path.join(tmp.dir, "b.zip");
  let n = 0;
  beforeAll(() => {
    expect(ferry(["save", `oci:${samples}`, "-o", bundle]).code).toBe(0);
    expect(ferry(["load", bundle, "--store", pristine]).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  /** A copy of the loaded store to damage. */
  function copy(): string {
    const store = path.join(tmp.dir, `store-${n++}`);
    cpSync(pristine, store, { recursive: true });
    return store;
  }

  it("index.json a folder: images, export and load say so (EBADSTORE), not EINTERNAL", () => {
    const store = copy();
    rmSync(path.join(store, "index.json"));
    mkdirSync(path.join(store, "index.json"));
    const message = `${path.join(store, "index.json")} is a directory, not a regular file`;
    expectTyped(ferry(["images", "--store", store]), "EBADSTORE", message);
    expectTyped(
      ferry([
        "export",
        "example.com/ferry/hello:1.0",
        "-o",
        path.join(tmp.dir, "x.tar"),
        "--store",
        store,
      ]),
      "EBADSTORE",
      message,
    );
    expectTyped(ferry(["load", bundle, "--store", store]), "EBADSTORE", message);
  });

  it("blobs/sha256 a file: load says so (EBADSTORE), not EINTERNAL", () => {
    const store = copy();
    rmSync(path.join(store, "blobs", "sha256"), { recursive: true });
    writeFileSync(path.join(store, "blobs", "sha256"), "");
    const message = `${path.join(store, "blobs", "sha256")} is a regular file, not a directory`;
    expectTyped(ferry(["load", bundle, "--store", store]), "EBADSTORE", message);
    expectTyped(ferry(["gc", "--store", store]), "EBADSTORE", message);
  });

  it("blobs linked to a folder elsewhere is refused, not followed", () => {
    const store = copy();
    const elsewhere = path.join(tmp.dir, `elsewhere-${n}`);
    cpSync(path.join(store, "blobs"), elsewhere, { recursive: true });
    rmSync(path.join(store, "blobs"), { recursive: true });
    symlinkSync(elsewhere, path.join(store, "blobs"));
    expectTyped(
      ferry(["images", "--store", store]),
      "EBADSTORE",
      `${path.join(store, "blobs")} is a symbolic link, not a directory`,
    );
  });

  it(".ferry linked elsewhere: a load writes no lock or log there", () => {
    const store = copy();
    const elsewhere = path.join(tmp.dir, `work-${n}`);
    mkdirSync(elsewhere);
    rmSync(path.join(store, ".ferry"), { recursive: true });
    symlinkSync(elsewhere, path.join(store, ".ferry"));
    expectTyped(
      ferry(["load", bundle, "--store", store]),
      "EBADSTORE",
      `${path.join(store, ".ferry")} is a symbolic link, not a directory`,
    );
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it("index.json that is not JSON: EBADIMAGE naming it, with a hint", () => {
    const store = copy();
    writeFileSync(path.join(store, "index.json"), "garbage");
    expectTyped(
      ferry(["images", "--store", store]),
      "EBADIMAGE",
      `${path.join(store, "index.json")}:`,
    );
    expectTyped(
      ferry(["check", "--store", store]),
      "EBADIMAGE",
      `${path.join(store, "index.json")}:`,
    );
  });

  it("oci-layout of another version: EBADIMAGE, with a hint", () => {
    const store = copy();
    writeFileSync(path.join(store, "oci-layout"), '{"imageLayoutVersion":"2.0.0"}');
    expectTyped(
      ferry(["images", "--store", store]),
      "EBADIMAGE",
      `${path.join(store, "oci-layout")} does not declare imageLayoutVersion 1.x`,
    );
  });

  it("oci-layout missing beside an index.json: EBADSTORE, not 'no store here'", () => {
    const store = copy();
    rmSync(path.join(store, "oci-layout"));
    expectTyped(
      ferry(["check", "--store", store]),
      "EBADSTORE",
      `${store} has an index.json but no oci-layout file`,
    );
  });
});

describe("modes of what ferry creates in a store, whatever the umask", () => {
  const tmp = tempDir("ferry-modes-");
  const bundle = path.join(tmp.dir, "b.zip");
  beforeAll(() => {
    expect(ferry(["save", `oci:${samples}`, "-o", bundle]).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  const mode = (file: string) => (statSync(file).mode & 0o777).toString(8).padStart(4, "0");

  for (const umask of ["077", "000"]) {
    it(`umask ${umask}: the layout 0755/0644, the working area's tmp and quarantine 0700`, () => {
      const store = path.join(tmp.dir, `store-${umask}`);
      const ferryUnder = (args: string[]) =>
        run("sh", ["-c", `umask ${umask} && exec "$0" "$@"`, process.execPath, ferryBin, ...args]);
      const loaded = ferryUnder(["load", bundle, "--store", store]);
      expect(loaded.code, loaded.stderr).toBe(0);
      // A damaged blob, so that --repair makes the quarantine folder.
      const blobs = path.join(store, "blobs", "sha256");
      const victim = readdirSync(blobs)[0] as string;
      writeFileSync(path.join(blobs, victim), "damaged");
      expect(ferryUnder(["check", "--repair", "--store", store]).code).toBe(3);
      expect(ferryUnder(["load", bundle, "--store", store]).code).toBe(0);
      expect(
        ferryUnder(["have", "-o", path.join(tmp.dir, `have-${umask}.json`), "--store", store]).code,
      ).toBe(0);

      const modes: Record<string, string> = {};
      for (const relative of [
        "",
        "blobs",
        "blobs/sha256",
        "index.json",
        "oci-layout",
        ".ferry",
        ".ferry/tmp",
        ".ferry/quarantine",
        ".ferry/log.jsonl",
        ".ferry/store-id",
      ]) {
        modes[relative || "."] = mode(path.join(store, relative));
      }
      const blobModes = new Set(readdirSync(blobs).map((blob) => mode(path.join(blobs, blob))));
      modes.blob = [...blobModes].join(",");
      expect(modes).toEqual({
        ".": "0755",
        blobs: "0755",
        "blobs/sha256": "0755",
        "index.json": "0644",
        "oci-layout": "0644",
        ".ferry": "0755",
        ".ferry/tmp": "0700",
        ".ferry/quarantine": "0700",
        ".ferry/log.jsonl": "0644",
        ".ferry/store-id": "0644",
        blob: "0644",
      });
    });
  }
});
