/**
 * The source argument of `ferry save` (and of image lists): every transport prefix, the
 * `PATH[:REF]` split (at the first colon, as skopeo does, except after a Windows drive letter),
 * `@N` for docker-archive, WIM paths and URLs, registry references, and what is refused.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  openSource,
  parseSourceSpec,
  resolveSpecPath,
  type SourceSpec,
} from "../../src/cli/source-spec.js";
import { repoRoot, run, tempDir } from "../helpers/cli.js";

const DIGEST = `sha256:${"a".repeat(64)}`;

function refusal(text: string): { code?: string; message: string; hint?: string } {
  try {
    parseSourceSpec(text);
  } catch (error) {
    const e = error as { code?: string; message: string; hint?: string };
    return { code: e.code, message: e.message, hint: e.hint };
  }
  throw new Error(`${text} was accepted`);
}

describe("parseSourceSpec: local transports, PATH[:REF]", () => {
  const cases: Array<[string, SourceSpec]> = [
    ["oci:layouts/app", { transport: "oci", path: "layouts/app" }],
    ["oci:/srv/layouts/app:1.0", { transport: "oci", path: "/srv/layouts/app", ref: "1.0" }],
    // The path ends at the first colon; the reference may hold colons of its own.
    [
      "oci:/srv/app:example.com:5000/team/app:1.0",
      { transport: "oci", path: "/srv/app", ref: "example.com:5000/team/app:1.0" },
    ],
    ["oci:./app:", { transport: "oci", path: "./app" }],
    ["oci-archive:app.tar", { transport: "oci-archive", path: "app.tar" }],
    [
      "oci-archive:/tmp/app.tar:example.com/app:2",
      { transport: "oci-archive", path: "/tmp/app.tar", ref: "example.com/app:2" },
    ],
    ["docker-archive:save.tar", { transport: "docker-archive", path: "save.tar" }],
    [
      "docker-archive:save.tar:busybox:latest",
      { transport: "docker-archive", path: "save.tar", ref: "busybox:latest" },
    ],
    // `@N`: the N-th image of the archive's manifest.json, kept as the reference.
    ["docker-archive:save.tar:@0", { transport: "docker-archive", path: "save.tar", ref: "@0" }],
    [
      "docker-archive:/a/b/save.tar:@12",
      { transport: "docker-archive", path: "/a/b/save.tar", ref: "@12" },
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseSourceSpec(text)).toEqual(expected));
  }

  it("refuses a transport without a path", () => {
    for (const prefix of ["oci", "oci-archive", "docker-archive"]) {
      expect(refusal(`${prefix}:`)).toMatchObject({
        code: "EUSAGE",
        message: `${prefix}:: the ${prefix} source needs a path`,
      });
      expect(refusal(`${prefix}::ref`).code).toBe("EUSAGE");
    }
  });
});

describe("parseSourceSpec: Windows drive letters", () => {
  // A single letter followed by `:\` or `:/` is a drive, not the end of the path.
  const cases: Array<[string, SourceSpec]> = [
    ["oci:C:\\layouts\\app", { transport: "oci", path: "C:\\layouts\\app" }],
    ["oci:C:\\layouts\\app:1.0", { transport: "oci", path: "C:\\layouts\\app", ref: "1.0" }],
    ["oci:c:/layouts/app:1.0", { transport: "oci", path: "c:/layouts/app", ref: "1.0" }],
    [
      "oci-archive:D:\\images\\app.tar:example.com/app:1.0",
      { transport: "oci-archive", path: "D:\\images\\app.tar", ref: "example.com/app:1.0" },
    ],
    [
      "docker-archive:E:\\saves\\all.tar:@1",
      { transport: "docker-archive", path: "E:\\saves\\all.tar", ref: "@1" },
    ],
    ["wim:C:\\images\\install.wim", { transport: "wim", location: "C:\\images\\install.wim" }],
    ["C:\\images\\install.wim", { transport: "wim", location: "C:\\images\\install.wim" }],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseSourceSpec(text)).toEqual(expected));
  }

  it("a letter without a slash after its colon is still a path and a reference", () => {
    // `oci:C:app` is the folder `C` with the reference `app` (as on Unix).
    expect(parseSourceSpec("oci:C:app")).toEqual({ transport: "oci", path: "C", ref: "app" });
    // Two letters are no drive.
    expect(parseSourceSpec("oci:CD:\\x")).toEqual({ transport: "oci", path: "CD", ref: "\\x" });
  });
});

describe("parseSourceSpec: WIM images", () => {
  const cases: Array<[string, SourceSpec]> = [
    ["wim:install.wim", { transport: "wim", location: "install.wim" }],
    ["wim:/media/usb/boot", { transport: "wim", location: "/media/usb/boot" }],
    [
      "wim:https://example.com/get?id=7",
      { transport: "wim", location: "https://example.com/get?id=7" },
    ],
    ["/media/usb/NanoServer.wim", { transport: "wim", location: "/media/usb/NanoServer.wim" }],
    ["INSTALL.WIM", { transport: "wim", location: "INSTALL.WIM" }],
    ["install2.swm", { transport: "wim", location: "install2.swm" }],
    [
      "https://example.com/images/NanoServer.wim",
      { transport: "wim", location: "https://example.com/images/NanoServer.wim" },
    ],
    [
      "http://127.0.0.1:8080/os.wim?token=x",
      { transport: "wim", location: "http://127.0.0.1:8080/os.wim?token=x" },
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseSourceSpec(text)).toEqual(expected));
  }

  it("refuses wim: without a location, and an http URL that is no WIM", () => {
    expect(refusal("wim:")).toMatchObject({ code: "EUSAGE", message: /needs a path or URL/ });
    expect(refusal("https://example.com/images/app.tar")).toMatchObject({
      code: "EUSAGE",
      message: /unknown source transport "https"/,
    });
  });
});

describe("parseSourceSpec: registries", () => {
  const cases: Array<[string, SourceSpec]> = [
    ["docker://alpine:3.19", { transport: "docker", ref: "alpine:3.19" }],
    [
      "docker://registry.lan:5000/team/app:1.0",
      { transport: "docker", ref: "registry.lan:5000/team/app:1.0" },
    ],
    ["alpine", { transport: "docker", ref: "alpine" }],
    ["alpine:3.19", { transport: "docker", ref: "alpine:3.19" }],
    [
      `registry.lan:5000/team/app@${DIGEST}`,
      { transport: "docker", ref: `registry.lan:5000/team/app@${DIGEST}` },
    ],
    [
      "mcr.microsoft.com/windows/nanoserver:ltsc2022",
      { transport: "docker", ref: "mcr.microsoft.com/windows/nanoserver:ltsc2022" },
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseSourceSpec(text)).toEqual(expected));
  }

  it("a malformed docker:// reference or bare word is EBADREF", () => {
    expect(refusal("docker://Upper/Case:1")).toMatchObject({
      code: "EBADREF",
      message: /lowercase/,
    });
    expect(refusal("docker://")).toMatchObject({ code: "EBADREF" });
    expect(refusal("Not A Reference")).toMatchObject({ code: "EBADREF" });
  });

  it("an unknown transport is a usage error listing the ones there are", () => {
    for (const text of ["dir:/tmp/x", "containers-storage:alpine@latest", "ftp://host/x"]) {
      const refused = refusal(text);
      expect(refused.code, text).toBe("EUSAGE");
      expect(refused.message, text).toMatch(/unknown source transport/);
      expect(refused.hint, text).toMatch(/oci:DIR\[:REF\].*docker-archive:FILE\[:REF\]/);
    }
  });
});

describe("resolveSpecPath (an image list's relative paths)", () => {
  it("resolves local paths against the list's folder; leaves URLs and registries alone", () => {
    const base = "/lists";
    expect(resolveSpecPath(parseSourceSpec("oci:app:1"), base)).toEqual({
      transport: "oci",
      path: path.resolve(base, "app"),
      ref: "1",
    });
    expect(resolveSpecPath(parseSourceSpec("docker-archive:s.tar:@1"), base)).toEqual({
      transport: "docker-archive",
      path: path.resolve(base, "s.tar"),
      ref: "@1",
    });
    expect(resolveSpecPath(parseSourceSpec("os.wim"), base)).toEqual({
      transport: "wim",
      location: path.resolve(base, "os.wim"),
    });
    const url = parseSourceSpec("https://example.com/os.wim");
    expect(resolveSpecPath(url, base)).toEqual(url);
    const registry = parseSourceSpec("alpine:3.19");
    expect(resolveSpecPath(registry, base)).toEqual(registry);
  });
});

describe("docker-archive:FILE:@N opens the N-th image", () => {
  const tmp = tempDir();
  const archive = path.join(tmp.dir, "two.tar");
  beforeAll(() => {
    // The sample `docker save` archive, its one manifest.json entry made two (other tags).
    const root = path.join(tmp.dir, "two");
    mkdirSync(root);
    const sample = path.join(repoRoot, "samples", "docker-save.tar");
    expect(run("tar", ["-xf", sample, "-C", root]).code).toBe(0);
    const [entry] = JSON.parse(readFileSync(path.join(root, "manifest.json"), "utf8"));
    writeFileSync(
      path.join(root, "manifest.json"),
      JSON.stringify([
        { ...entry, RepoTags: ["example.com/first/app:1"] },
        { ...entry, RepoTags: ["example.com/second/app:2"] },
      ]),
    );
    expect(run("tar", ["-C", root, "-cf", archive, "."]).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  async function namesIn(text: string): Promise<string[]> {
    const source = await openSource(parseSourceSpec(text));
    try {
      return (await source.images()).map((image) => image.name);
    } finally {
      await source.close();
    }
  }

  it("@0 and @1 are the archive's images in manifest.json order; @2 is refused", async () => {
    expect(await namesIn(`docker-archive:${archive}`)).toEqual([
      "example.com/first/app:1",
      "example.com/second/app:2",
    ]);
    expect(await namesIn(`docker-archive:${archive}:@0`)).toEqual(["example.com/first/app:1"]);
    expect(await namesIn(`docker-archive:${archive}:@1`)).toEqual(["example.com/second/app:2"]);
    await expect(namesIn(`docker-archive:${archive}:@2`)).rejects.toMatchObject({
      code: "ENOTFOUND",
      message: expect.stringMatching(/has no image @2 \(it holds 2\)/),
    });
  });
});
