/**
 * What `save` makes of a WIM's name, version and architecture: whatever it writes, `verify`
 * and `load` accept, and a WIM it would have to guess about is refused at save time, naming
 * the field and the wiminfo command that sets it. Real WIMs, made with wimtools.
 */

import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, tempDir } from "../helpers/cli.js";
import { makeSourceTree, setImageProperties, wimCapture } from "../helpers/wimtools.js";

const FULL_VERSION = {
  "WINDOWS/VERSION/MAJOR": "10",
  "WINDOWS/VERSION/MINOR": "0",
  "WINDOWS/VERSION/BUILD": "20348",
  "WINDOWS/VERSION/SPBUILD": "2113",
};

describe("OS image names, versions and architectures at save time", () => {
  const tmp = tempDir("ferry-wim-naming-");
  const dir = tmp.dir;
  let tree: string;

  /** A real WIM with image 1 named `name` and these XML properties. */
  async function wim(file: string, name: string, properties: Record<string, string>) {
    const out = path.join(dir, file);
    await wimCapture(tree, out, name);
    await setImageProperties(out, 1, properties);
    return out;
  }

  /** `save` refused it with EBADWIM (exit 3) and wrote nothing. */
  function expectRefused(wimFile: string): string {
    const bundle = path.join(dir, `${path.basename(wimFile, ".wim")}.zip`);
    const result = ferry(["save", wimFile, "-o", bundle, "-q"]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain("[EBADWIM]");
    expect(existsSync(bundle)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    return result.stderr;
  }

  beforeAll(async () => {
    tree = await makeSourceTree(path.join(dir, "tree"));
  });
  afterAll(() => tmp.cleanup());

  it("a NAME too long for a reference is refused at save, saying how to shorten it", async () => {
    const file = await wim("long.wim", "N".repeat(300), { ...FULL_VERSION, "WINDOWS/ARCH": "9" });
    const stderr = expectRefused(file);
    expect(stderr).toContain("image 1's NAME (300 characters");
    expect(stderr).toContain("at most 238 characters");
    expect(stderr).toContain("--image-name");
  });

  it("the longest NAME that fits is saved, and verify and load accept the bundle", async () => {
    const name = "N".repeat(238);
    const file = await wim("longest.wim", name, { ...FULL_VERSION, "WINDOWS/ARCH": "9" });
    const bundle = path.join(dir, "longest.zip");
    const saved = ferryJson<{ images: Array<{ ref: string }> }>(["save", file, "-o", bundle]);
    expect(saved.code, saved.stderr).toBe(0);
    const ref = `os.ferry.invalid/${"n".repeat(238)}:10.0.20348.2113`;
    expect(saved.json.images.map((i) => i.ref)).toEqual([ref]);
    const verified = ferry(["verify", bundle]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const loaded = ferryJson<{ images: Array<{ ref: string; status: string }> }>([
      "load",
      bundle,
      "--store",
      path.join(dir, "store"),
    ]);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.json.images).toEqual([expect.objectContaining({ ref, status: "new" })]);
  });

  it("a version with only MAJOR is refused, not saved as 10.0.0.0", async () => {
    const file = await wim("major.wim", "NanoServer", {
      "WINDOWS/VERSION/MAJOR": "10",
      "WINDOWS/ARCH": "9",
    });
    const stderr = expectRefused(file);
    expect(stderr).toContain("has WINDOWS/VERSION MAJOR but no MINOR, BUILD, SPBUILD");
    expect(stderr).toContain("--image-property WINDOWS/VERSION/MINOR=N");
  });

  it("a missing SPBUILD alone is refused too", async () => {
    const file = await wim("nospbuild.wim", "NanoServer", {
      "WINDOWS/VERSION/MAJOR": "10",
      "WINDOWS/VERSION/MINOR": "0",
      "WINDOWS/VERSION/BUILD": "20348",
      "WINDOWS/ARCH": "9",
    });
    expect(expectRefused(file)).toContain("but no SPBUILD");
  });

  it("no WINDOWS/ARCH is refused rather than saved as windows/unknown", async () => {
    const file = await wim("noarch.wim", "NanoServer", FULL_VERSION);
    const stderr = expectRefused(file);
    expect(stderr).toContain("has no WINDOWS/ARCH, so its platform would be windows/unknown");
    expect(stderr).toContain("--image-property WINDOWS/ARCH=9");
  });

  it("an ARCH code ferry has no name for is refused, listing the known ones", async () => {
    const file = await wim("arch6.wim", "NanoServer", { ...FULL_VERSION, "WINDOWS/ARCH": "6" });
    expect(expectRefused(file)).toContain(
      "has WINDOWS/ARCH 6, which is not an architecture ferry knows (0 386, 5 arm, 9 amd64, 12 arm64)",
    );
  });
});
