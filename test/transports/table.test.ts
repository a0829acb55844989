import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  destinationForms,
  listForms,
  openSource,
  parseDestination,
  parseSource,
  resolveSourcePaths,
  type SourceSpec,
  sourceForms,
  sourcePrefixes,
  TRANSPORTS,
} from "../../src/transports/table.js";
import { tempDir, twoImageDockerArchive } from "../helpers/cli.js";

const DIGEST = `sha256:${"a".repeat(64)}`;

function refusal(text: string): { code?: string; message: string; hint?: string } {
  try {
    parseSource(text);
  } catch (error) {
    const e = error as { code?: string; message: string; hint?: string };
    return { code: e.code, message: e.message, hint: e.hint };
  }
  throw new Error(`${text} was accepted`);
}

describe("parseSource: local transports, PATH[:REF]", () => {
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
    it(text, () => expect(parseSource(text)).toEqual(expected));
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

describe("parseSource: Windows drive letters", () => {
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
    it(text, () => expect(parseSource(text)).toEqual(expected));
  }

  it("a letter without a slash after its colon is still a path and a reference", () => {
    // `oci:C:app` is the folder `C` with the reference `app` (as on Unix).
    expect(parseSource("oci:C:app")).toEqual({ transport: "oci", path: "C", ref: "app" });
    // Two letters are no drive.
    expect(parseSource("oci:CD:\\x")).toEqual({ transport: "oci", path: "CD", ref: "\\x" });
  });
});

describe("parseSource: UNC and device paths", () => {
  // A UNC root holds no colon: the path still ends at the first colon. A device prefix
  // (`\\?\`, `\\.\`) before a drive keeps the drive's colon in the path.
  const cases: Array<[string, SourceSpec]> = [
    ["oci:\\\\server\\share\\app", { transport: "oci", path: "\\\\server\\share\\app" }],
    [
      "oci:\\\\server\\share\\app:1.0",
      { transport: "oci", path: "\\\\server\\share\\app", ref: "1.0" },
    ],
    ["oci://server/share/app:1.0", { transport: "oci", path: "//server/share/app", ref: "1.0" }],
    [
      "oci-archive:\\\\?\\C:\\images\\app.tar:example.com/app:1.0",
      { transport: "oci-archive", path: "\\\\?\\C:\\images\\app.tar", ref: "example.com/app:1.0" },
    ],
    [
      "docker-archive:\\\\.\\D:\\saves\\all.tar:@2",
      { transport: "docker-archive", path: "\\\\.\\D:\\saves\\all.tar", ref: "@2" },
    ],
    [
      "docker-archive:\\\\nas\\images\\all.tar:busybox:latest",
      { transport: "docker-archive", path: "\\\\nas\\images\\all.tar", ref: "busybox:latest" },
    ],
    [
      "docker-archive:C:/saves/all.tar:@0",
      { transport: "docker-archive", path: "C:/saves/all.tar", ref: "@0" },
    ],
    [
      "\\\\server\\share\\os\\install.wim",
      { transport: "wim", location: "\\\\server\\share\\os\\install.wim" },
    ],
    [
      "wim:\\\\server\\share\\os\\boot",
      { transport: "wim", location: "\\\\server\\share\\os\\boot" },
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseSource(text)).toEqual(expected));
  }

  it("a Windows path with no transport in front says to name one", () => {
    expect(refusal("C:\\layouts\\app")).toMatchObject({
      code: "EUSAGE",
      message: 'C:\\layouts\\app: unknown source transport "C"',
      hint: "a Windows path: name its transport in front, e.g. oci:C:\\layouts\\app",
    });
  });
});

describe("resolveSourcePaths with path.win32 (an image list on Windows)", () => {
  const cases: Array<[string, string, SourceSpec]> = [
    ["oci:app:1", "C:\\lists", { transport: "oci", path: "C:\\lists\\app", ref: "1" }],
    [
      "docker-archive:saves\\all.tar:@1",
      "\\\\server\\share\\lists",
      { transport: "docker-archive", path: "\\\\server\\share\\lists\\saves\\all.tar", ref: "@1" },
    ],
    ["os.wim", "D:\\lists", { transport: "wim", location: "D:\\lists\\os.wim" }],
    // Absolute drive and UNC paths are kept as written.
    ["oci:E:\\layouts\\app", "C:\\lists", { transport: "oci", path: "E:\\layouts\\app" }],
    [
      "oci-archive:\\\\nas\\x.tar",
      "C:\\lists",
      { transport: "oci-archive", path: "\\\\nas\\x.tar" },
    ],
  ];
  for (const [text, base, expected] of cases) {
    it(`${text} against ${base}`, () => {
      expect(resolveSourcePaths(parseSource(text), base, path.win32)).toEqual(expected);
    });
  }

  it("with path.posix, drive and UNC paths are kept as written too", () => {
    for (const text of ["oci:C:\\layouts\\app", "oci:\\\\server\\share\\app"]) {
      const spec = parseSource(text);
      expect(resolveSourcePaths(spec, "/lists", path.posix)).toEqual(spec);
    }
    expect(resolveSourcePaths(parseSource("oci:app"), "/lists", path.posix)).toEqual({
      transport: "oci",
      path: "/lists/app",
    });
  });
});

describe("parseSource: WIM images", () => {
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
    it(text, () => expect(parseSource(text)).toEqual(expected));
  }

  it("refuses wim: without a location, and an http URL that is no WIM", () => {
    expect(refusal("wim:")).toMatchObject({ code: "EUSAGE", message: /needs a path or URL/ });
    expect(refusal("https://example.com/images/app.tar")).toMatchObject({
      code: "EUSAGE",
      message: /unknown source transport "https"/,
    });
  });
});

describe("parseSource: registries", () => {
  const cases: Array<[string, SourceSpec]> = [
    ["docker://alpine:3.19", { transport: "registry", ref: "alpine:3.19" }],
    [
      "docker://registry.lan:5000/team/app:1.0",
      { transport: "registry", ref: "registry.lan:5000/team/app:1.0" },
    ],
    ["alpine", { transport: "registry", ref: "alpine" }],
    ["alpine:3.19", { transport: "registry", ref: "alpine:3.19" }],
    [
      `registry.lan:5000/team/app@${DIGEST}`,
      { transport: "registry", ref: `registry.lan:5000/team/app@${DIGEST}` },
    ],
    [
      "mcr.microsoft.com/windows/nanoserver:ltsc2022",
      { transport: "registry", ref: "mcr.microsoft.com/windows/nanoserver:ltsc2022" },
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseSource(text)).toEqual(expected));
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
    for (const text of ["tape:/dev/st0", "containers-storage:alpine@latest", "ftp://host/x"]) {
      const refused = refusal(text);
      expect(refused.code, text).toBe("EUSAGE");
      expect(refused.message, text).toMatch(/unknown source transport/);
      // Every form of the table, in its order (a new transport's too): today's, at least.
      expect(refused.hint, text).toBe(`use ${listForms(sourceForms())}`);
      expect(refused.hint, text).toMatch(
        /^use oci:DIR\[:REF\], oci-archive:FILE\[:REF\], docker-archive:FILE\[:REF\|@N\], (.*, )?FILE\.wim, wim:FILE\|URL, https:\/\/\.\.\.\/FILE\.wim, .*docker:\/\/REF or a bare image reference$/,
      );
    }
  });
});

describe("resolveSourcePaths (an image list's relative paths)", () => {
  it("resolves local paths against the list's folder; leaves URLs and registries alone", () => {
    const base = "/lists";
    expect(resolveSourcePaths(parseSource("oci:app:1"), base)).toEqual({
      transport: "oci",
      path: path.resolve(base, "app"),
      ref: "1",
    });
    expect(resolveSourcePaths(parseSource("docker-archive:s.tar:@1"), base)).toEqual({
      transport: "docker-archive",
      path: path.resolve(base, "s.tar"),
      ref: "@1",
    });
    expect(resolveSourcePaths(parseSource("os.wim"), base)).toEqual({
      transport: "wim",
      location: path.resolve(base, "os.wim"),
    });
    const url = parseSource("https://example.com/os.wim");
    expect(resolveSourcePaths(url, base)).toEqual(url);
    const registry = parseSource("alpine:3.19");
    expect(resolveSourcePaths(registry, base)).toEqual(registry);
  });
});

describe("docker-archive:FILE:@N opens the N-th image", () => {
  const tmp = tempDir();
  const archive = path.join(tmp.dir, "two.tar");
  beforeAll(() => twoImageDockerArchive(archive));
  afterAll(() => tmp.cleanup());

  async function namesIn(text: string): Promise<string[]> {
    const source = await openSource(parseSource(text));
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

describe("the destination grammar: --to KIND[:WHERE]", () => {
  const cases: Array<[string, unknown]> = [
    ["store", { transport: "store" }],
    ["store:/var/lib/ferry/store", { transport: "store", dir: "/var/lib/ferry/store" }],
    ["store:C:\\ferry\\store", { transport: "store", dir: "C:\\ferry\\store" }],
    ["store:\\\\nas\\ferry\\store", { transport: "store", dir: "\\\\nas\\ferry\\store" }],
    [
      "registry:registry.lan:5000",
      { transport: "registry", registry: "registry.lan:5000", prefix: "" },
    ],
    [
      "registry:registry.lan:5000/mirror/team/",
      { transport: "registry", registry: "registry.lan:5000", prefix: "mirror/team" },
    ],
    ["docker-archive:images.tar", { transport: "docker-archive", path: "images.tar" }],
    // The whole text after the kind is the file: colons, drives and UNC roots included.
    ["docker-archive:C:\\out\\x.tar", { transport: "docker-archive", path: "C:\\out\\x.tar" }],
    ["docker-archive:\\\\nas\\x.tar", { transport: "docker-archive", path: "\\\\nas\\x.tar" }],
    ["docker-archive:a:b.tar", { transport: "docker-archive", path: "a:b.tar" }],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseDestination(text)).toEqual(expected));
  }

  function refusedDestination(text: string, kinds?: string[]) {
    try {
      parseDestination(text, kinds ? { kinds } : {});
    } catch (error) {
      return error as { code?: string; message: string; hint?: string };
    }
    throw new Error(`${text} was accepted`);
  }

  it("an unknown kind is a usage error listing the known ones", () => {
    // `docker` is a kind now (the Docker engine); `dockerd` is not.
    for (const text of ["dir:/tmp/x", "oci:/tmp/x", "C:\\store", "dockerd"]) {
      const refused = refusedDestination(text);
      expect(refused.code, text).toBe("EUSAGE");
      expect(refused.message, text).toMatch(/unknown destination/);
      expect(refused.hint, text).toBe(
        "use --to store[:DIR], docker-archive:FILE, docker[:HOST], containerd[:SOCK] or registry:HOST[:PORT][/PREFIX]",
      );
    }
  });

  it("a kind the command does not take lists those it does", () => {
    const refused = refusedDestination("registry:reg.lan", ["store"]);
    expect(refused).toMatchObject({
      code: "EUSAGE",
      message: "--to registry:reg.lan: this command does not write to registry",
      hint: "use --to store[:DIR]",
    });
  });

  it("a destination without its WHERE, or a bad registry, is a usage error naming it", () => {
    expect(refusedDestination("docker-archive")).toMatchObject({
      code: "EUSAGE",
      message: "--to docker-archive: name the tarball to write",
    });
    expect(refusedDestination("registry")).toMatchObject({
      code: "EUSAGE",
      message: "--to registry: no registry host",
    });
    expect(refusedDestination("registry:mirror")).toMatchObject({
      code: "EUSAGE",
      message:
        '--to registry:mirror: "mirror" does not look like a registry host (no dot, no port)',
    });
  });
});

describe("the table is the one list of transports", () => {
  it("names each transport once; help, docs and completion read their forms from it", () => {
    const names = TRANSPORTS.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    // Today's, in this order; a new transport adds its line without changing this test. The
    // registry stays last: a bare image reference is its, and almost any word is one.
    const today = ["oci", "store", "oci-archive", "docker-archive", "wim", "registry"];
    expect(names.filter((name) => today.includes(name))).toEqual(today);
    expect(names.at(-1)).toBe("registry");
    const prefixes = sourcePrefixes();
    expect(new Set(prefixes).size).toBe(prefixes.length);
    const todayPrefixes = ["oci:", "oci-archive:", "docker-archive:", "wim:", "docker://"];
    expect(prefixes.filter((prefix) => todayPrefixes.includes(prefix))).toEqual(todayPrefixes);
    expect(prefixes.at(-1)).toBe("docker://");
    expect(destinationForms()).toEqual(
      expect.arrayContaining([
        "store[:DIR]",
        "docker-archive:FILE",
        "registry:HOST[:PORT][/PREFIX]",
      ]),
    );
    expect(destinationForms()[0]).toBe("store[:DIR]");
    expect(destinationForms().at(-1)).toBe("registry:HOST[:PORT][/PREFIX]");
    expect(sourceForms()).toContain("docker-archive:FILE[:REF|@N]");
  });
});

describe("the engines as destinations: docker[:HOST], containerd[:SOCK]", () => {
  it("docker: the host from --to docker:HOST or --docker-host, the same one if both", () => {
    expect(parseDestination("docker")).toEqual({ transport: "docker" });
    expect(parseDestination("docker:unix:///tmp/d.sock")).toEqual({
      transport: "docker",
      host: "unix:///tmp/d.sock",
    });
    expect(
      parseDestination("docker", { settings: { dockerHost: "tcp://engine.lan:2376" } }),
    ).toEqual({ transport: "docker", host: "tcp://engine.lan:2376" });
    expect(() =>
      parseDestination("docker:unix:///a.sock", { settings: { dockerHost: "unix:///b.sock" } }),
    ).toThrow(/names another engine than --docker-host/);
  });

  it("containerd: the socket from containerd:SOCK, --address or CONTAINERD_ADDRESS; namespace k8s.io", () => {
    const saved = process.env.CONTAINERD_ADDRESS;
    try {
      process.env.CONTAINERD_ADDRESS = "/env/containerd.sock";
      expect(parseDestination("containerd")).toEqual({
        transport: "containerd",
        address: "/env/containerd.sock",
        namespace: "k8s.io",
      });
      expect(
        parseDestination("containerd", { settings: { address: "/flag.sock", namespace: "lab" } }),
      ).toEqual({ transport: "containerd", address: "/flag.sock", namespace: "lab" });
      expect(parseDestination("containerd:/run/k3s/containerd/containerd.sock")).toMatchObject({
        address: "/run/k3s/containerd/containerd.sock",
      });
      expect(() =>
        parseDestination("containerd:/a.sock", { settings: { address: "/b.sock" } }),
      ).toThrow(/names another socket than --address/);
      expect(() => parseDestination("containerd", { settings: { namespace: "../x" } })).toThrow(
        /not a containerd namespace/,
      );
    } finally {
      if (saved === undefined) delete process.env.CONTAINERD_ADDRESS;
      else process.env.CONTAINERD_ADDRESS = saved;
    }
  });
});
