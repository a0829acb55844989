/**
 * FIFOs (named pipes) where ferry expects files (issue 13): opening one for reading waits for a
 * writer, forever. A FIFO planted as a store blob, named `*.wim` in a folder being searched, or
 * given as the WIM to read, is refused at once with a typed error naming it. Every command runs
 * in a child process with a kill timer as a safety net only: the assertions are on exit codes
 * and output, never on time.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AsyncRun, ferry, ferryAsync, repoRoot, tempDir } from "../helpers/cli.js";
import { captureWindows, hasWimtools, makeSourceTree } from "../helpers/wimtools.js";

/** Kills a ferry that hangs (the old behaviour) so the suite ends; never the assertion. */
const SAFETY_NET_MS = 60_000;

function ferryGuarded(args: string[]): Promise<AsyncRun> {
  return ferryAsync(args, { safetyNetMs: SAFETY_NET_MS });
}

function mkfifo(file: string): void {
  const made = spawnSync("mkfifo", [file]);
  expect(made.status, String(made.stderr)).toBe(0);
}

interface SearchJson {
  files: Array<{ file: string; ref?: string; problem?: { code: string; message: string } }>;
}

describe("a FIFO planted as a store blob", () => {
  const tmp = tempDir("ferry-fifo-store-");
  const store = path.join(tmp.dir, "store");
  const layer = "sha256:28c543ce8de8fbf3148d47705f951b3aea0679a5a5b887bf1209e846d9d4a901";
  afterAll(() => tmp.cleanup());

  beforeAll(() => {
    const bundle = path.join(tmp.dir, "b.zip");
    const saved = ferry(["save", `oci:${path.join(repoRoot, "samples", "oci")}`, "-o", bundle]);
    expect(saved.code, saved.stderr).toBe(0);
    expect(ferry(["load", bundle, "--store", store]).code).toBe(0);
    const blob = path.join(store, "blobs", "sha256", layer.slice(7));
    expect(existsSync(blob)).toBe(true);
    rmSync(blob);
    mkfifo(blob);
  });

  it("check finishes and reports it as not a file, naming the blob and the images", async () => {
    const checked = await ferryGuarded(["check", "--store", store, "--json"]);
    expect(checked.killed).toBe(false);
    expect(checked.code).toBe(3);
    const report = JSON.parse(checked.stdout) as {
      problems: Array<{ kind: string; digest: string; message: string; images: string[] }>;
    };
    expect(report.problems).toEqual([
      {
        kind: "not-a-file",
        digest: layer,
        message: expect.stringContaining("is a FIFO (named pipe), not a regular file"),
        images: ["example.com/ferry/hello:1.0", "example.com/ferry/hello:multi"],
      },
    ]);
  }, 120_000);

  it("export refuses it with EBADSTORE", async () => {
    const out = path.join(tmp.dir, "out.tar");
    const exported = await ferryGuarded([
      "export",
      "example.com/ferry/hello:1.0",
      "-o",
      out,
      "--store",
      store,
    ]);
    expect(exported.killed).toBe(false);
    expect(exported.code).toBe(3);
    expect(exported.stderr).toContain(
      `[EBADSTORE]: blob ${layer} (${path.join(store, "blobs", "sha256", layer.slice(7))}) is a FIFO (named pipe)`,
    );
    expect(existsSync(out)).toBe(false);
  }, 120_000);
});

describe("a FIFO named like a WIM", () => {
  const tmp = tempDir("ferry-fifo-wim-");
  const share = path.join(tmp.dir, "share");
  const fifo = path.join(share, "evil.wim");
  afterAll(() => tmp.cleanup());

  beforeAll(async () => {
    mkdirSync(share);
    mkfifo(fifo);
    symlinkSync(fifo, path.join(share, "link-to-fifo.wim"));
    if (hasWimtools) {
      const tree = await makeSourceTree(path.join(tmp.dir, "tree"));
      const wim = path.join(share, "good.wim");
      await captureWindows(tree, wim, "NanoServer", "10.0.20348.2113");
    }
  });

  for (const command of [["wim", "search"], ["search"]]) {
    it(`ferry ${command.join(" ")} DIR lists it as a file it did not read, and the rest`, async () => {
      const searched = await ferryGuarded([...command, share, "--json"]);
      expect(searched.killed).toBe(false);
      expect(searched.code, searched.stderr).toBe(0);
      const rows = (JSON.parse(searched.stdout) as SearchJson).files;
      expect(rows.find((row) => row.file === "evil.wim")?.problem).toEqual({
        code: "EBADWIM",
        message: `${fifo} is a FIFO (named pipe), not a regular file`,
      });
      expect(rows.find((row) => row.file === "link-to-fifo.wim")?.problem).toEqual({
        code: "EBADWIM",
        message: `${path.join(share, "link-to-fifo.wim")} is a FIFO (named pipe), not a regular file`,
      });
      if (hasWimtools) {
        expect(rows.find((row) => row.file === "good.wim")).toMatchObject({
          ref: "nanoserver:10.0.20348.2113",
        });
      }
    }, 120_000);
  }

  it("wim info refuses it with EBADWIM", async () => {
    const info = await ferryGuarded(["wim", "info", fifo]);
    expect(info.killed).toBe(false);
    expect(info.code).toBe(3);
    expect(info.stderr).toContain(`[EBADWIM]: ${fifo} is a FIFO (named pipe), not a regular file`);
  }, 120_000);

  it("save refuses it with EBADWIM and writes no bundle", async () => {
    const bundle = path.join(tmp.dir, "os.zip");
    const saved = await ferryGuarded(["save", `wim:${fifo}`, "-o", bundle]);
    expect(saved.killed).toBe(false);
    expect(saved.code).toBe(3);
    expect(saved.stderr).toContain(`[EBADWIM]: ${fifo} is a FIFO (named pipe), not a regular file`);
    expect(existsSync(bundle)).toBe(false);
  }, 120_000);
});
