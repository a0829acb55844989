import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_CHUNK_MIB } from "../../src/cli/commands/push.js";
import { DEFAULT_UPLOAD_TUNING } from "../../src/transports/registry/upload.js";
import { ferry, ferryBin, repoRoot, tempDir } from "../helpers/cli.js";

/**
 * Start-up stays cheap: registering the commands loads commander, the command definitions and
 * pure helpers only. A command's ops, transports and libraries load when its action runs
 * (docs/architecture.md, "CLI start-up").
 */

const tmp = tempDir("ferry-startup-");
afterAll(() => tmp.cleanup());

/** An --import script that records every module node loads (ESM via a load hook, CJS at exit). */
function tracer(): string {
  const dir = path.join(tmp.dir, "tracer");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.FERRY_TRACE_FILE, url + "\\n");
  return next(url, context);
}
`,
  );
  writeFileSync(
    path.join(dir, "register.mjs"),
    `import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";
register("./hooks.mjs", import.meta.url);
const require = createRequire(import.meta.url);
process.on("exit", () => {
  const loaded = Object.keys(require.cache).map((file) => pathToFileURL(file).href);
  appendFileSync(process.env.FERRY_TRACE_FILE, loaded.join("\\n") + "\\n");
});
`,
  );
  return path.join(dir, "register.mjs");
}

/** The modules of ferry and its dependencies that `ferry ARGS` loads, relative to the repo. */
function modulesLoadedBy(args: string[]): string[] {
  const register = tracer();
  const traceFile = path.join(tmp.dir, `trace-${args.join("_").replace(/\W/g, "")}.txt`);
  writeFileSync(traceFile, "");
  const result = spawnSync(process.execPath, ["--import", register, ferryBin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, FERRY_TRACE_FILE: traceFile },
    encoding: "utf8",
  });
  expect(result.status, result.stderr).toBe(0);
  const root = `${pathToFileURL(repoRoot).href}/`;
  return [
    ...new Set(
      readFileSync(traceFile, "utf8")
        .split("\n")
        .filter((url) => url.startsWith(root))
        .map((url) => url.slice(root.length)),
    ),
  ].sort();
}

/**
 * The transport table and its entries (help and argument checks read them): light modules that
 * `import()` their transport's code only when a command opens one. Each transport's line is the
 * `entry.ts` of its folder, so a new transport needs no change here.
 */
const ENTRIES = readdirSync(path.join(repoRoot, "src", "transports"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .filter((folder) => existsSync(path.join(repoRoot, "src", "transports", folder.name, "entry.ts")))
  .map((folder) => `dist/transports/${folder.name}/entry.js`);
const TABLE = [
  ...ENTRIES,
  "dist/transports/docker-repo-tag.js",
  "dist/transports/local-spec.js",
  "dist/transports/path-argument.js",
  "dist/transports/spec-path.js",
  "dist/transports/table.js",
].sort();

/**
 * Light modules the start-up needs: the interrupt handlers (installed before any command runs)
 * remove this run's listed temp files synchronously (node:fs only).
 */
const NEEDED_AT_START = ["dist/util/run-temps.js"];

/** What only a command's action may load. */
const HEAVY = [
  /^dist\/(ops|engine|digest|cache|trust|util)\//,
  /^dist\/transports\//,
  /^dist\/cli\/(progress|destination|trust-options)\.js$/,
  /^dist\/cli\/commands\/.*\.run\.js$/,
  /^node_modules\/(yauzl|tar-stream|cli-progress|yaml|ssri)\//,
];

describe("CLI start-up", () => {
  for (const args of [["--version"], ["--help"], ["verify", "--help"], ["wim", "--help"]]) {
    it(`ferry ${args.join(" ")} loads no op, transport or heavy library`, () => {
      const loaded = modulesLoadedBy(args);
      expect(loaded).toContain("dist/cli/main.js");
      expect(loaded).toContain("dist/cli/commands/verify.js");
      const heavy = (file: string) =>
        HEAVY.some((re) => re.test(file)) &&
        !TABLE.includes(file) &&
        !NEEDED_AT_START.includes(file);
      expect(loaded.filter(heavy)).toEqual([]);
    });
  }

  it("help reads the transport table, and the table loads no transport's code", () => {
    const loaded = modulesLoadedBy(["save", "--help"]);
    expect(loaded.filter((file) => file.startsWith("dist/transports/"))).toEqual(TABLE);
  });

  it("a command loads what it needs when it runs, and no more", () => {
    const store = path.join(tmp.dir, "empty-store");
    mkdirSync(store);
    const loaded = modulesLoadedBy(["images", "--store", store]);
    expect(loaded).toContain("dist/cli/commands/images.run.js");
    expect(loaded).toContain("dist/ops/images.js");
    const others = loaded.filter(
      (file) => /\.run\.js$/.test(file) && file !== "dist/cli/commands/images.run.js",
    );
    expect(others).toEqual([]);
    expect(loaded.filter((file) => /^node_modules\/(cli-progress|yaml)\//.test(file))).toEqual([]);
  });

  it("help names the upload chunk size the registry client uses", () => {
    expect(DEFAULT_CHUNK_MIB * 1024 * 1024).toBe(DEFAULT_UPLOAD_TUNING.chunkSize);
  });
});

describe("errors with lazily loaded commands", () => {
  it("an unknown command is a usage error (exit 2)", () => {
    const result = ferry(["frobnicate"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it("a missing argument is a usage error (exit 2) with the command's help", () => {
    const result = ferry(["verify"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("missing required argument 'bundle'");
    expect(result.stderr).toContain("Usage: ferry verify");
  });

  it("a bad option value is checked before the action loads (exit 2)", () => {
    const result = ferry(["load", "x.zip", "--jobs", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("0 is not a whole number from 1 to 64");
  });

  it("an error inside a lazily loaded action keeps its code, exit code and --json form", () => {
    const missing = path.join(tmp.dir, "no-such-bundle.zip");
    const result = ferry(["verify", missing, "--json"]);
    const json = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(json.error.code).toBe("ENOTFOUND");
    expect(json.error.message).toContain(missing);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("ferry: error [ENOTFOUND]");
  });

  it("--progress is still checked for every command", () => {
    const result = ferry(["--progress", "loud", "images", "--store", tmp.dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--progress loud: use auto, json or none");
  });
});
