import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryAsync, ferryJson, repoRoot, run, tempDir } from "../helpers/cli.js";
import { pushForeignLayerImage, type RunningRegistry, startRegistry } from "../helpers/registry.js";
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

describe("bundles with OS images loaded for docker (--docker-archive)", () => {
  const sampleLayout = path.join(repoRoot, "samples", "oci");
  const osBundle = path.join(tmp.dir, "os-only.zip");
  const mixedBundle = path.join(tmp.dir, "mixed.zip");
  beforeAll(async () => {
    const tree = await makeSourceTree(path.join(tmp.dir, "da-tree"));
    const wim = await makeOsWim(tmp.dir, tree, "WindowsServerCore", "10.0.20348.1");
    expect(ferry(["save", wim, "-o", osBundle]).code).toBe(0);
    expect(ferry(["save", wim, `oci:${sampleLayout}`, "-o", mixedBundle]).code).toBe(0);
  });

  it("an OS-only bundle: nothing can go in, said so (exit 2), no tar written, no 'docker load'", () => {
    const tar = path.join(tmp.dir, "os-only.tar");
    const result = ferry(["load", osBundle, "--docker-archive", tar]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`nothing to write to ${tar}`);
    expect(result.stderr).toContain("os.ferry.invalid/windowsservercore:10.0.20348.1");
    expect(result.stderr).toContain(
      `hint: load the bundle into a store (ferry load ${osBundle} --store DIR) or a registry (--to registry:HOST)`,
    );
    expect(result.stdout + result.stderr).not.toContain("docker load");
    expect(existsSync(tar)).toBe(false);
  });

  it("a mixed bundle with --platform linux/amd64: the OS image is left out with a notice", () => {
    const tar = path.join(tmp.dir, "mixed.tar");
    const result = ferry([
      "load",
      mixedBundle,
      "--docker-archive",
      tar,
      "--platform",
      "linux/amd64",
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("example.com/ferry/hello:1.0");
    expect(result.stdout).toContain(
      "skipped os.ferry.invalid/windowsservercore:10.0.20348.1: a Windows base OS image (.wim), not a container image",
    );
    expect(statSync(tar).size).toBeGreaterThan(0);
  });
});

describe("--since takes a split bundle as every other command does", () => {
  it("B.zip.parts, B.zip (volumes only) and B.zip.001 are each the base of a delta", () => {
    const sampleLayout = path.join(repoRoot, "samples", "oci");
    const base = path.join(tmp.dir, "split-base.zip");
    expect(ferry(["save", `oci:${sampleLayout}`, "-o", base, "--split", "1M"]).code).toBe(0);
    expect(existsSync(base)).toBe(false);
    for (const [name, since] of [
      ["parts", `${base}.parts`],
      ["volumes", base],
      ["first", `${base}.001`],
    ] as const) {
      const { code, json } = ferryJson<{ requires: number }>([
        "save",
        `oci:${sampleLayout}`,
        "-o",
        path.join(tmp.dir, `delta-${name}.zip`),
        "--since",
        since,
      ]);
      expect(code).toBe(0);
      expect(json.requires).toBe(3);
    }
  });
});

describe("a --skip-foreign bundle loaded into a store", () => {
  let registry: RunningRegistry;
  afterAll(async () => {
    await registry?.stop();
  });

  it("names the foreign layers left out by --skip-foreign, not 'a delta' (ENOTFOUND, exit 4)", async () => {
    registry = await startRegistry();
    await pushForeignLayerImage(registry.url, "windows/old");
    const env = {
      HOME: tmp.dir,
      FERRY_AUTH_FILE: path.join(tmp.dir, "auth.json"),
      DOCKER_CONFIG: path.join(tmp.dir, "docker"),
      FERRY_CACHE: path.join(tmp.dir, "cache"),
    };
    const bundle = path.join(tmp.dir, "foreign.zip");
    const save = await ferryAsync(
      [
        "save",
        `${registry.host}/windows/old:1`,
        "-o",
        bundle,
        "--platform",
        "windows/amd64",
        "--skip-foreign",
      ],
      { env },
    );
    expect(save.code).toBe(0);
    const store = path.join(tmp.dir, "foreign-store");
    const load = ferry(["load", bundle, "--store", store], { env });
    expect(load.code).toBe(4);
    expect(load.stderr).toContain("[ENOTFOUND]");
    expect(load.stderr).toContain(
      `${bundle} leaves out 1 foreign layer(s) (saved with --skip-foreign) that`,
    );
    expect(load.stderr).toMatch(
      /hint: save the bundle again without --skip-foreign, or load it into a registry/,
    );
    expect(load.stderr).not.toContain("is a delta");
    expect(load.stderr).not.toContain("--since");
  });
});

describe("repair --out DIR (read-only stick): verify and load read the rebuilt part with --parts-from DIR", () => {
  it("a missing part rebuilt into DIR: repair says how, verify and load succeed with --parts-from (exit 0)", () => {
    const sampleLayout = path.join(repoRoot, "samples", "oci");
    const usb = path.join(tmp.dir, "usb");
    mkdirSync(usb);
    const bundle = path.join(usb, "nightly.zip");
    expect(
      ferry(["save", `oci:${sampleLayout}`, "-o", bundle, "--split", "4K", "--parity"]).code,
    ).toBe(0);
    const partsFile = `${bundle}.parts`;
    const second = JSON.parse(readFileSync(partsFile, "utf8")).parts[1].name as string;
    rmSync(path.join(usb, second));
    const before = ferry(["verify", partsFile]);
    expect(before.code).toBe(3);
    const out = path.join(tmp.dir, "incoming");
    const repaired = ferry(["repair", partsFile, "--out", out]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain(
      `ferry verify ${partsFile} --parts-from ${out}\` (and the same --parts-from on load)`,
    );
    const verified = ferry(["verify", partsFile, "--parts-from", out]);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    const store = path.join(tmp.dir, "parts-from-store");
    const loaded = ferryJson<{ images: Array<{ status: string }> }>([
      "load",
      partsFile,
      "--store",
      store,
      "--parts-from",
      out,
    ]);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.json.images.map((i) => i.status)).toEqual(["new", "new"]);
    // The stick was only read: the part is still missing there.
    expect(existsSync(path.join(usb, second))).toBe(false);
  });

  it("--parts-from a folder with none of the volumes, or with a single-file bundle: said so", () => {
    const empty = path.join(tmp.dir, "empty-parts");
    mkdirSync(empty);
    const usb = path.join(tmp.dir, "usb2");
    mkdirSync(usb);
    const split = path.join(usb, "b.zip");
    const sampleLayout = path.join(repoRoot, "samples", "oci");
    expect(ferry(["save", `oci:${sampleLayout}`, "-o", split, "--split", "4K"]).code).toBe(0);
    const none = ferry(["verify", `${split}.parts`, "--parts-from", empty]);
    expect(none.code).toBe(4);
    expect(none.stderr).toContain(`--parts-from ${empty} holds none of the volumes of ${split}`);
    const single = path.join(tmp.dir, "single.zip");
    expect(ferry(["save", `oci:${sampleLayout}`, "-o", single]).code).toBe(0);
    const notSplit = ferry([
      "load",
      single,
      "--store",
      path.join(tmp.dir, "s3"),
      "--parts-from",
      empty,
    ]);
    expect(notSplit.code).toBe(2);
    expect(notSplit.stderr).toContain(`--parts-from ${empty}: ${single} is not a split bundle`);
  });
});

describe("a name listed twice inside a layout's or archive's index is blamed on that file", () => {
  it("oci:DIR whose index.json names an image twice: EBADIMAGE (exit 3) naming DIR/index.json", () => {
    const layout = path.join(tmp.dir, "dup-layout");
    cpSync(path.join(repoRoot, "samples", "oci"), layout, { recursive: true });
    const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8"));
    index.manifests.push({ ...index.manifests[0] });
    writeFileSync(path.join(layout, "index.json"), JSON.stringify(index));
    const name = index.manifests[0].annotations["org.opencontainers.image.ref.name"];
    const result = ferry(["save", `oci:${layout}`, "-o", path.join(tmp.dir, "dup.zip")]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `[EBADIMAGE]: oci:${layout} lists the image name ${name} twice`,
    );
    expect(result.stderr).toContain(`hint: ${layout}/index.json must name each image once`);
    expect(result.stderr).not.toContain("comes from both");
    expect(result.stderr).not.toContain("save each image name once");
  });

  it("docker-archive: whose manifest.json repeats an entry: names manifest.json in the archive", () => {
    const root = path.join(tmp.dir, "dup-archive");
    mkdirSync(root);
    expect(
      run("tar", ["-xf", path.join(repoRoot, "samples", "docker-save.tar"), "-C", root]).code,
    ).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(root, "manifest.json"), "utf8"));
    writeFileSync(path.join(root, "manifest.json"), JSON.stringify([manifest[0], manifest[0]]));
    const archive = path.join(tmp.dir, "dup.tar");
    expect(run("tar", ["-C", root, "-cf", archive, "."]).code).toBe(0);
    const result = ferry([
      "save",
      `docker-archive:${archive}`,
      "-o",
      path.join(tmp.dir, "dup2.zip"),
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`[EBADIMAGE]: docker-archive:${archive} lists the image name`);
    expect(result.stderr).toContain(`hint: manifest.json in ${archive} must name each image once`);
  });

  it("the same image named twice on the command line is still the command line's mistake (exit 2)", () => {
    const layout = path.join(repoRoot, "samples", "oci");
    const result = ferry([
      "save",
      `oci:${layout}`,
      `oci:${layout}`,
      "-o",
      path.join(tmp.dir, "twice.zip"),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("comes from both");
  });
});

describe("wim extract of a damaged WIM", () => {
  it("EBADWIM (exit 3) naming the OS image and its WIM, wimlib's words shown, no partial tree left", async () => {
    const store = path.join(tmp.dir, "damaged-wim-store");
    const tree = await makeSourceTree(path.join(tmp.dir, "big-tree"), {
      fileCount: 6,
      fileBytes: 200_000,
    });
    await installWim(store, await makeOsWim(tmp.dir, tree, "NanoServer", "10.0.17763.9"));
    const blobs = path.join(store, "blobs", "sha256");
    const wim = readdirSync(blobs).find((name) =>
      readFileSync(path.join(blobs, name)).subarray(0, 5).equals(Buffer.from("MSWIM")),
    ) as string;
    const file = path.join(blobs, wim);
    const bytes = readFileSync(file);
    // Damage file data late in the WIM: the files before it are applied first.
    const at = Math.floor(bytes.length * 0.7);
    for (let i = at; i < at + 64; i++) bytes[i] = (bytes[i] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    const target = path.join(tmp.dir, "extract-target");
    const result = ferry(["wim", "extract", "nanoserver:10.0.17763.9", target, "--store", store]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `[EBADWIM]: image 1 of the WIM of nanoserver:10.0.17763.9 (sha256:${wim}) could not be applied`,
    );
    expect(result.stderr).toContain("wimlib says:");
    expect(result.stderr).toContain(`WIM file: "${file}"`);
    expect(result.stderr).toMatch(/hint: `ferry check`/);
    expect(existsSync(target)).toBe(false);
    // A folder that was there (empty) stays, and stays empty.
    const existing = path.join(tmp.dir, "extract-existing");
    mkdirSync(existing);
    const again = ferry(["wim", "extract", "nanoserver:10.0.17763.9", existing, "--store", store]);
    expect(again.code).toBe(3);
    expect(readdirSync(existing)).toEqual([]);
  });
});

describe("rmi refused has its own exit code", () => {
  it("an OS image a container image is built on: EREFUSED, exit 11, the store unchanged", async () => {
    const store = path.join(tmp.dir, "refused-store");
    containerStore(store);
    const tree = await makeSourceTree(path.join(tmp.dir, "refused-tree"));
    await installWim(store, await makeOsWim(tmp.dir, tree, "NanoServer", "10.0.20348.2113"));
    const before = readFileSync(path.join(store, "index.json"));
    const result = ferry(["rmi", "nanoserver:10.0.20348.2113", "--store", store]);
    expect(result.code).toBe(11);
    expect(result.stderr).toContain("[EREFUSED]: refusing to remove: nanoserver:10.0.20348.2113");
    expect(result.stderr).toContain("test.example/win:1");
    expect(result.stderr).toContain("--force");
    expect(readFileSync(path.join(store, "index.json"))).toEqual(before);
    const doc = readFileSync(path.join(repoRoot, "docs", "errors.md"), "utf8");
    expect(doc).toMatch(/\| `EREFUSED` +\| 11 +\|/);
    expect(doc).toMatch(/\| 11 +\| refused: `rmi`/);
  });
});
