import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, samplesOci, tempDir } from "../helpers/cli.js";
import { fingerprint } from "../helpers/tree.js";
import {
  captureWindows,
  makeSourceTree,
  setImageProperties,
  wimAppend,
  wiminfo,
  wimSplit,
  windowsVersion,
} from "../helpers/wimtools.js";
import { zipEntries } from "../helpers/zip-tamper.js";

/** The Windows manifest of samples/oci's example.com/ferry/hello:multi has this os.version. */
const SAMPLE_WINDOWS = "10.0.20348.2113";

/** A real WIM: image 1 `name` at `version`, optionally a UtilityVM image 2. */
async function makeOsWim(
  file: string,
  tree: string,
  name: string,
  version: string,
  utilityVm = true,
): Promise<string> {
  await captureWindows(tree, file, name, version, { compress: "LZX" });
  if (utilityVm) {
    await wimAppend(tree, file, "UtilityVM");
    await setImageProperties(file, 2, windowsVersion(version));
  }
  return file;
}

interface LoadJson {
  osImages: Array<{ ref: string; version: string; fullName: string; images: string[] }>;
  latestMoved: Array<{ ref: string; version: string; fromVersion?: string }>;
}

interface ImagesJson {
  ref: string;
  kind: string;
  repository: string;
  tag: string;
  digest: string;
  platforms: string[];
  os?: { version: string; fullName: string; imageCount: number; wim: string };
}

/** The store's names and their annotations, read from index.json (no ferry run needed). */
function storeIndex(store: string): Map<string, Record<string, string>> {
  const index = JSON.parse(readFileSync(path.join(store, "index.json"), "utf8"));
  return new Map(
    index.manifests.map((d: { annotations: Record<string, string> }) => [
      d.annotations["org.opencontainers.image.ref.name"],
      d.annotations,
    ]),
  );
}

function run(args: string[]) {
  const result = ferry(args);
  return { ...result, all: `${result.stdout}\n${result.stderr}` };
}

describe("Windows base OS images end to end (save, inspect, verify, load, images, tag, rmi, extract)", () => {
  const tmp = tempDir("ferry-wim-cli-");
  const dir = tmp.dir;
  const wims: Record<string, string> = {};
  const bundles: Record<string, string> = {};
  let tree: string;

  /** Stores with bundles loaded in a given order, built once each (see `storeWith`). */
  const states = new Map<string, string>();
  /**
   * A store of the test's own holding `loads` (loaded in that order): built once, then copied,
   * so no test sees what another tagged or removed, and any runs alone (`-t`) or in any order.
   */
  function storeWith(test: string, loads: string[]): string {
    const key = loads.join("+");
    let built = states.get(key);
    if (!built) {
      built = path.join(dir, `state-${key}`);
      for (const name of loads) {
        const loaded = run(["load", bundles[name] as string, "--store", built, "-q"]);
        expect(loaded.code, loaded.all).toBe(0);
      }
      states.set(key, built);
    }
    const store = path.join(dir, `store-${test}`);
    cpSync(built, store, { recursive: true });
    return store;
  }

  beforeAll(async () => {
    tree = await makeSourceTree(path.join(dir, "tree"), { fileCount: 2, fileBytes: 20_000 });
    // key, file, image 1's name, its version, and whether a UtilityVM image 2 follows
    const made = [
      ["nano2113", "NanoServer.wim", "NanoServer", SAMPLE_WINDOWS, true],
      ["nano2200", "NanoServer-2200.wim", "NanoServer", "10.0.20348.2200", true],
      ["nano1000", "NanoServer-1000.wim", "NanoServer", "10.0.20348.1000", false],
      ["core", "WindowsServerCore.wim", "WindowsServerCore", "10.0.14300.1000", true],
    ] as const;
    for (const [key, file, name, version, utilityVm] of made) {
      wims[key] = await makeOsWim(path.join(dir, file), tree, name, version, utilityVm);
    }
    for (const [name, inputs] of Object.entries({
      b1: [wims.nano2113, `oci:${samplesOci}`],
      b2: [wims.nano2200, `wim:${wims.core}`],
      b3: [wims.nano1000],
    })) {
      bundles[name] = path.join(dir, `${name}.zip`);
      const saved = run(["save", ...(inputs as string[]), "-o", bundles[name] as string, "-q"]);
      expect(saved.code, saved.all).toBe(0);
    }
  });
  afterAll(() => tmp.cleanup());

  it("save puts a WIM and container images in one bundle, reporting both WIM images", () => {
    const saved = run([
      "save",
      wims.nano2113 as string,
      `oci:${samplesOci}`,
      "-o",
      path.join(dir, "again.zip"),
    ]);
    expect(saved.code, saved.all).toBe(0);
    expect(saved.stdout).toMatch(
      /os\.ferry\.invalid\/nanoserver:10\.0\.20348\.2113\s+windows\/amd64:10\.0\.20348\.2113/,
    );
    expect(saved.stdout).toContain("example.com/ferry/hello:multi");
    expect(saved.stdout).toContain(
      "1: NanoServer (container base), 2: UtilityVM (Hyper-V utility VM)",
    );
    expect(saved.stderr).toContain("once to compute its sha256");
  });

  it("inspect shows the OS image: kind, version, full name; ferry.json has osImages", async () => {
    const { json } = ferryJson<{
      images: Array<{ ref: string; kind: string }>;
      osImages: Array<{ ref: string; fullName: string; wim: string; size: number }>;
    }>(["inspect", bundles.b1 as string]);
    expect(json.images.find((i) => i.ref.startsWith("os.ferry.invalid/"))?.kind).toBe("os-image");
    expect(json.osImages).toEqual([
      expect.objectContaining({
        ref: `os.ferry.invalid/nanoserver:${SAMPLE_WINDOWS}`,
        version: SAMPLE_WINDOWS,
        fullName: `CN=Microsoft_NanoServer_${SAMPLE_WINDOWS}`,
        images: ["NanoServer", "UtilityVM"],
      }),
    ]);
    expect(json.osImages[0]?.size).toBe(readFileSync(wims.nano2113 as string).length);
    const human = run(["inspect", bundles.b1 as string]).stdout;
    expect(human).toMatch(
      /nanoserver\s+10\.0\.20348\.2113\s+amd64\s+CN=Microsoft_NanoServer_10\.0\.20348\.2113/,
    );
    expect(ferry(["verify", bundles.b1 as string]).code).toBe(0);
  });

  it("load installs the WIM as nanoserver:<version> and tags latest", () => {
    const store = path.join(dir, "store-load");
    const { code, json } = ferryJson<LoadJson>(["load", bundles.b1 as string, "--store", store]);
    expect(code).toBe(0);
    expect(json.osImages.map((o) => o.ref)).toEqual([
      `os.ferry.invalid/nanoserver:${SAMPLE_WINDOWS}`,
    ]);
    expect(json.latestMoved).toEqual([
      expect.objectContaining({
        ref: "os.ferry.invalid/nanoserver:latest",
        version: SAMPLE_WINDOWS,
      }),
    ]);
  });

  it("images lists OS images with kind, version and full name; --os only those", () => {
    const store = storeWith("images", ["b1"]);
    const all = ferryJson<ImagesJson[]>(["images", "--store", store]).json;
    const os = all.filter((i) => i.kind === "os-image");
    expect(os.map((i) => `${i.repository}:${i.tag}`).sort()).toEqual([
      `nanoserver:${SAMPLE_WINDOWS}`,
      "nanoserver:latest",
    ]);
    expect(os[0]?.os).toMatchObject({
      version: SAMPLE_WINDOWS,
      fullName: `CN=Microsoft_NanoServer_${SAMPLE_WINDOWS}`,
      imageCount: 2,
    });
    expect(os[0]?.platforms).toEqual([`windows/amd64:${SAMPLE_WINDOWS}`]);
    expect(all.some((i) => i.ref === "example.com/ferry/hello:multi" && i.kind === "image")).toBe(
      true,
    );
    const only = ferryJson<ImagesJson[]>(["images", "--os", "--store", store]).json;
    expect(only.every((i) => i.kind === "os-image")).toBe(true);
    expect(only).toHaveLength(2);
    const table = run(["images", "--os", "--store", store]).stdout;
    expect(table).toMatch(/OS IMAGE\s+TAG\s+KIND\s+VERSION\s+ARCH\s+FULL NAME/);
    expect(table).toMatch(
      /nanoserver\s+latest\s+os-image\s+10\.0\.20348\.2113\s+amd64\s+CN=Microsoft_NanoServer_10\.0\.20348\.2113/,
    );
  });

  it("the store stays an OCI layout other tools read: index.json names the OS image", () => {
    const store = storeWith("index", ["b1"]);
    const index = JSON.parse(readFileSync(path.join(store, "index.json"), "utf8"));
    const entry = index.manifests.find(
      (d: { annotations: Record<string, string> }) =>
        d.annotations["org.opencontainers.image.ref.name"] === "os.ferry.invalid/nanoserver:latest",
    );
    expect(entry.annotations["vnd.ferry.kind"]).toBe("os-image");
    expect(entry.annotations["vnd.ferry.os.full-name"]).toBe(
      `CN=Microsoft_NanoServer_${SAMPLE_WINDOWS}`,
    );
  });

  it("a newer version moves latest and says so; an older one leaves it", () => {
    const store = storeWith("newer", ["b1"]);
    const newer = run(["load", bundles.b2 as string, "--store", store]);
    expect(newer.code, newer.all).toBe(0);
    expect(newer.stdout).toContain(
      `tag nanoserver:latest -> 10.0.20348.2200 (was ${SAMPLE_WINDOWS})`,
    );
    expect(newer.stdout).toContain("tag windowsservercore:latest -> 10.0.14300.1000 (new)");
    const older = ferryJson<LoadJson>(["load", bundles.b3 as string, "--store", store]).json;
    expect(older.osImages.map((o) => o.version)).toEqual(["10.0.20348.1000"]);
    expect(older.latestMoved).toEqual([]);
    expect(
      storeIndex(store).get("os.ferry.invalid/nanoserver:latest")?.["vnd.ferry.os.version"],
    ).toBe("10.0.20348.2200");
  });

  it("--no-latest leaves latest tags alone", () => {
    const other = path.join(dir, "store-no-latest");
    const { json } = ferryJson<LoadJson>([
      "load",
      bundles.b2 as string,
      "--store",
      other,
      "--no-latest",
    ]);
    expect(json.latestMoved).toEqual([]);
    expect([...storeIndex(other).keys()].sort()).toEqual([
      "os.ferry.invalid/nanoserver:10.0.20348.2200",
      "os.ferry.invalid/windowsservercore:10.0.14300.1000",
    ]);
  });

  it("tag names an OS image among OS images; windowsservercore:latest resolves", () => {
    const store = storeWith("tag", ["b1", "b2", "b3"]);
    const tagged = ferryJson<{ target: string; kind: string }>([
      "tag",
      `nanoserver:${SAMPLE_WINDOWS}`,
      "nanoserver:prod",
      "--store",
      store,
    ]).json;
    expect(tagged).toMatchObject({ target: "os.ferry.invalid/nanoserver:prod", kind: "os-image" });
    const viaFullName = ferryJson<{ target: string }>([
      "tag",
      "CN=Microsoft_WindowsServerCore_10.0.14300.1000",
      "registry.example/windows/servercore:10.0.14300.1000",
      "--store",
      store,
    ]).json;
    expect(viaFullName.target).toBe("registry.example/windows/servercore:10.0.14300.1000");
    const refs = [...storeIndex(store).keys()];
    expect(refs).toContain("os.ferry.invalid/nanoserver:prod");
    expect(refs).toContain("registry.example/windows/servercore:10.0.14300.1000");
  });

  it("wim extract applies image 1 (or --index 2) of windowsservercore:latest with wimlib", async () => {
    const store = storeWith("extract", ["b1", "b2", "b3"]);
    const target = path.join(dir, "extracted");
    const result = ferryJson<{ index: number; imageName: string; fullName: string }>([
      "wim",
      "extract",
      "windowsservercore:latest",
      target,
      "--store",
      store,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({
      index: 1,
      imageName: "WindowsServerCore",
      fullName: "CN=Microsoft_WindowsServerCore_10.0.14300.1000",
    });
    expect(await readFile(path.join(target, "readme.txt"), "utf8")).toContain("tiny tree");
    const vm = path.join(dir, "utility-vm");
    expect(
      ferry(["wim", "extract", "nanoserver:latest", vm, "--index", "2", "--store", store]).code,
    ).toBe(0);
    expect(existsSync(path.join(vm, "Windows", "System32", "file0.bin"))).toBe(true);
    const bad = run([
      "wim",
      "extract",
      "nanoserver:latest",
      path.join(dir, "x"),
      "--index",
      "3",
      "--store",
      store,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("holds 2 image(s)");
    const notOs = run([
      "wim",
      "extract",
      "example.com/ferry/hello:1.0",
      path.join(dir, "y"),
      "--store",
      store,
    ]);
    expect(notOs.code).toBe(2);
    expect(notOs.stderr).toContain("not a Windows base OS image");
  });

  it("wim extract without wimlib on PATH says how to get it", () => {
    const store = storeWith("no-wimlib", ["b1"]);
    const result = ferry(
      ["wim", "extract", "nanoserver:latest", path.join(dir, "no-wimlib"), "--store", store],
      {
        env: { PATH: path.join(dir, "empty-path") },
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("wimlib-imagex is not on PATH");
    expect(result.stderr).toContain("apt-get install wimtools");
    expect(result.stderr).toContain("dism /Apply-Image");
  });

  it("rmi refuses an OS image a container image is built on, naming it; the store is untouched", () => {
    const store = storeWith("rmi-refused", ["b1", "b2", "b3"]);
    const before = fingerprint(store);
    const refused = run(["rmi", `nanoserver:${SAMPLE_WINDOWS}`, "--store", store]);
    expect(refused.code).toBe(11);
    expect(refused.stderr).toContain("[EREFUSED]: refusing to remove");
    expect(refused.stderr).toContain("example.com/ferry/hello:multi");
    expect(refused.stderr).toContain(`windows/amd64:${SAMPLE_WINDOWS} matches`);
    expect(refused.stderr).toContain("--force");
    const byFullName = run(["rmi", `CN=Microsoft_NanoServer_${SAMPLE_WINDOWS}`, "--store", store]);
    expect(byFullName.code).toBe(11);
    expect(fingerprint(store)).toEqual(before);
  });

  it("rmi removes it once the dependant is gone, by full name, and reclaims the WIM", () => {
    const store = storeWith("rmi-removes", ["b1", "b2", "b3"]);
    // A second name for the version, removed with it.
    const tagged = run([
      "tag",
      `nanoserver:${SAMPLE_WINDOWS}`,
      "nanoserver:prod",
      "--store",
      store,
    ]);
    expect(tagged.code, tagged.all).toBe(0);
    const wimDigest = storeIndex(store).get(`os.ferry.invalid/nanoserver:${SAMPLE_WINDOWS}`)?.[
      "vnd.ferry.wim.digest"
    ] as string;
    const blob = path.join(store, "blobs", "sha256", wimDigest.slice(7));
    expect(existsSync(blob)).toBe(true);
    expect(ferry(["rmi", "example.com/ferry/hello:multi", "--store", store]).code).toBe(0);
    const removed = run(["rmi", `CN=Microsoft_NanoServer_${SAMPLE_WINDOWS}`, "--store", store]);
    expect(removed.code, removed.all).toBe(0);
    expect(removed.stdout).toContain(`Untagged: nanoserver:${SAMPLE_WINDOWS}`);
    expect(removed.stdout).toContain("Untagged: nanoserver:prod");
    expect(removed.stdout).toContain(`OS image CN=Microsoft_NanoServer_${SAMPLE_WINDOWS}`);
    expect(removed.stdout).toMatch(/Reclaimed \d+ blob\(s\)/);
    expect(existsSync(blob)).toBe(false);
    const refs = [...storeIndex(store).keys()];
    expect(refs).not.toContain(`os.ferry.invalid/nanoserver:${SAMPLE_WINDOWS}`);
    expect(refs).toContain("os.ferry.invalid/nanoserver:latest");
  });

  it("rmi --force removes a base with dependants, and warns", () => {
    const store = storeWith("rmi-force", ["b1", "b2", "b3"]);
    expect(ferry(["load", bundles.b1 as string, "--store", store]).code).toBe(0);
    const forced = run(["rmi", `nanoserver:${SAMPLE_WINDOWS}`, "--force", "--store", store]);
    expect(forced.code, forced.all).toBe(0);
    expect(forced.stdout).toContain("Warning: example.com/ferry/hello:multi was built on");
    const refs = [...storeIndex(store).keys()];
    expect(refs).toContain("example.com/ferry/hello:multi");
    expect(refs).not.toContain(`os.ferry.invalid/nanoserver:${SAMPLE_WINDOWS}`);
  });

  it("removing the version latest points at moves latest to the newest version left", () => {
    // 10.0.20348.2200 (latest) and 10.0.20348.1000: removing the first leaves the second.
    const store = storeWith("rmi-latest", ["b2", "b3"]);
    const result = run(["rmi", "nanoserver:10.0.20348.2200", "--store", store]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toContain("Moved: nanoserver:latest -> 10.0.20348.1000");
    expect(
      storeIndex(store).get("os.ferry.invalid/nanoserver:latest")?.["vnd.ferry.os.version"],
    ).toBe("10.0.20348.1000");
  });

  it("a WIM byte changed after saving is caught by verify and load; nothing is installed", async () => {
    const bundle = path.join(dir, "tampered.zip");
    expect(ferry(["save", wims.nano2113 as string, "-o", bundle, "-q"]).code).toBe(0);
    const entries = await zipEntries(bundle);
    const manifestEntry = entries.get("ferry.json");
    if (!manifestEntry) throw new Error("no ferry.json");
    const ferryJsonBytes = readFileSync(bundle).subarray(
      manifestEntry.dataStart,
      manifestEntry.dataStart + manifestEntry.size,
    );
    const wimDigest = JSON.parse(ferryJsonBytes.toString("utf8")).osImages[0].wim as string;
    const entry = entries.get(`blobs/sha256/${wimDigest.slice(7)}`);
    if (!entry) throw new Error("no WIM entry");
    // Change the version inside the WIM's XML (which its own integrity table does not cover).
    const zip = readFileSync(bundle);
    // The XML the header points at (wiminfo --image-property leaves the old XML behind it).
    const xmlOffset = Number(zip.readBigUInt64LE(entry.dataStart + 0x48 + 8));
    const needle = Buffer.from("<BUILD>20348</BUILD>", "utf16le");
    const at = zip.indexOf(needle, entry.dataStart + xmlOffset);
    expect(at).toBeGreaterThan(entry.dataStart);
    expect(at).toBeLessThan(entry.dataStart + entry.size);
    Buffer.from("<BUILD>20349</BUILD>", "utf16le").copy(zip, at);
    writeFileSync(bundle, zip);
    // wimlib itself reads the forged version happily: only ferry's sha256 protects it.
    const forged = path.join(dir, "forged.wim");
    await writeFile(forged, zip.subarray(entry.dataStart, entry.dataStart + entry.size));
    expect((await wiminfo(forged)).images[0]?.Build).toBe("20349");

    const verify = run(["verify", bundle]);
    expect(verify.code).toBe(3);
    expect(verify.stdout).toContain(wimDigest);
    expect(verify.stdout).toContain(`os.ferry.invalid/nanoserver:${SAMPLE_WINDOWS}`);

    // A store with other OS images, not this WIM (a blob already there is not read again).
    const store = storeWith("tampered", ["b2"]);
    const before = fingerprint(store);
    const load = run(["load", bundle, "--store", store]);
    expect(load.code).toBe(3);
    expect(load.stderr).toContain(wimDigest);
    expect(fingerprint(store)).toEqual(before);
    const fresh = path.join(dir, "fresh-store");
    expect(ferry(["load", bundle, "--store", fresh]).code).toBe(3);
    expect(existsSync(path.join(fresh, "blobs", "sha256", wimDigest.slice(7)))).toBe(false);
  });

  it("--sha256 checks each WIM source; a wrong one writes no bundle", () => {
    const out = path.join(dir, "sha.zip");
    const wrong = run(["save", wims.nano2113 as string, "--sha256", "0".repeat(64), "-o", out]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(`expected sha256:${"0".repeat(64)}`);
    expect(existsSync(out)).toBe(false);
    const count = run([
      "save",
      wims.nano2113 as string,
      wims.core as string,
      "--sha256",
      "0".repeat(64),
      "-o",
      out,
    ]);
    expect(count.code).toBe(2);
    expect(count.stderr).toContain("1 --sha256 value(s) for 2 .wim source(s)");
  });

  it("a split WIM given alone is refused, naming the missing parts", async () => {
    const splitDir = path.join(dir, "split");
    await mkdir(splitDir);
    const big = await makeSourceTree(path.join(dir, "big"), { fileCount: 3, fileBytes: 40_000 });
    const whole = await makeOsWim(path.join(dir, "big.wim"), big, "NanoServer", "10.0.1.1", false);
    await wimSplit(whole, path.join(splitDir, "NANO.swm"), 0.03);
    const alone = path.join(dir, "alone");
    await mkdir(alone);
    writeFileSync(path.join(alone, "NANO.swm"), readFileSync(path.join(splitDir, "NANO.swm")));
    const result = run(["save", path.join(alone, "NANO.swm"), "-o", path.join(dir, "split.zip")]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/missing or unusable: NANO2\.swm/);
  });

  it("wim search lists a folder's WIMs: name, version, architecture, size", async () => {
    await writeFile(path.join(dir, "broken.wim"), "not a wim\n".repeat(100));
    const { code, json } = ferryJson<{
      files: Array<{
        file: string;
        name?: string;
        version?: string;
        architecture?: string;
        size: number;
        problem?: { message: string };
      }>;
    }>(["wim", "search", dir]);
    expect(code).toBe(0);
    const core = json.files.find((f) => f.file === "WindowsServerCore.wim");
    expect(core).toMatchObject({
      name: "WindowsServerCore",
      version: "10.0.14300.1000",
      architecture: "amd64",
      size: readFileSync(wims.core as string).length,
    });
    expect(json.files.find((f) => f.file === "broken.wim")?.problem?.message).toContain(
      "not a WIM",
    );
    const table = run(["wim", "search", dir]).stdout;
    expect(table).toMatch(/NAME\s+VERSION\s+ARCH\s+IMAGES\s+SIZE\s+FILE/);
    expect(table).toMatch(
      /windowsservercore\s+10\.0\.14300\.1000\s+amd64\s+2\s+\S+\s+WindowsServerCore\.wim/,
    );
    expect(table).toContain("broken.wim:");
  });

  it("wim info shows what a file says, with the legacy full name", () => {
    const result = run(["wim", "info", wims.nano2113 as string]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`CN=Microsoft_NanoServer_${SAMPLE_WINDOWS}`);
    expect(result.stdout).toMatch(
      /2\s+UtilityVM\s+10\.0\.20348\.2113\s+amd64\s+Hyper-V utility VM/,
    );
  });
});
