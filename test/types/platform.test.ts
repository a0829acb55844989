import { describe, expect, it } from "vitest";
import { FerryError } from "../../src/errors.js";
import type { Descriptor } from "../../src/types/descriptor.js";
import {
  compareOsVersions,
  describeAvailablePlatforms,
  formatPlatform,
  matchesPlatform,
  type Platform,
  parsePlatform,
  platformFromNode,
  selectPlatforms,
} from "../../src/types/platform.js";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function manifest(name: string, platform?: Platform): Descriptor {
  const digest = `sha256:${name.padEnd(64, "0")}` as const;
  return platform === undefined
    ? { mediaType: MANIFEST, digest, size: 100 }
    : { mediaType: MANIFEST, digest, size: 100, platform };
}

const linuxAmd64 = manifest("a1", { os: "linux", architecture: "amd64" });
const linuxArmV6 = manifest("a2", { os: "linux", architecture: "arm", variant: "v6" });
const linuxArmV7 = manifest("a3", { os: "linux", architecture: "arm", variant: "v7" });
const linuxArm64 = manifest("a4", { os: "linux", architecture: "arm64", variant: "v8" });
const attestation = manifest("a5", { os: "unknown", architecture: "unknown" });
const noPlatform = manifest("a6");
const linuxIndex = [linuxAmd64, linuxArmV6, linuxArmV7, linuxArm64, attestation, noPlatform];

/** A Windows index as MCR publishes it: several builds of the same OS. */
const windows2019 = manifest("b1", {
  os: "windows",
  architecture: "amd64",
  "os.version": "10.0.17763.5329",
});
const windows2022Old = manifest("b2", {
  os: "windows",
  architecture: "amd64",
  "os.version": "10.0.20348.2113",
});
const windows2022New = manifest("b3", {
  os: "windows",
  architecture: "amd64",
  "os.version": "10.0.20348.2227",
});
const windowsIndex = [windows2019, windows2022New, windows2022Old];

function usageError(text: string): FerryError {
  try {
    parsePlatform(text);
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).code).toBe("EUSAGE");
    expect((error as FerryError).message).toContain(`"${text}"`);
    return error as FerryError;
  }
  throw new Error(`expected "${text}" to be rejected`);
}

describe("parsePlatform", () => {
  it.each([
    ["linux/amd64", { os: "linux", architecture: "amd64" }],
    ["linux/arm64", { os: "linux", architecture: "arm64" }],
    ["linux/arm64/v8", { os: "linux", architecture: "arm64", variant: "v8" }],
    ["linux/arm/v7", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux/arm/v6", { os: "linux", architecture: "arm", variant: "v6" }],
    ["linux/arm", { os: "linux", architecture: "arm", variant: "v7" }],
    ["windows/amd64:10.0.20348", { os: "windows", architecture: "amd64", osVersion: "10.0.20348" }],
    ["linux/x86_64", { os: "linux", architecture: "amd64" }],
    ["linux/x86-64", { os: "linux", architecture: "amd64" }],
    ["linux/aarch64", { os: "linux", architecture: "arm64" }],
    ["linux/armhf", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux/armel", { os: "linux", architecture: "arm", variant: "v6" }],
    ["linux/i386", { os: "linux", architecture: "386" }],
    ["linux/x86", { os: "linux", architecture: "386" }],
    ["linux/arm/7", { os: "linux", architecture: "arm", variant: "v7" }],
    ["Linux/AMD64", { os: "linux", architecture: "amd64" }],
    ["linux/s390x", { os: "linux", architecture: "s390x" }],
  ])("parses %s", (text, expected) => {
    expect(parsePlatform(text)).toEqual(expected);
  });

  it.each([
    "",
    "linux",
    "linux/",
    "/amd64",
    "linux/amd64/",
    "linux/amd64/v8/x",
    "linux/amd64:",
    "windows/amd64:10.0.x",
    "windows/amd64:10..0",
    "linux amd64",
    "all",
  ])("rejects %j", (text) => {
    expect(usageError(text).message).toContain("os/arch[/variant][:os.version]");
  });
});

describe("formatPlatform", () => {
  it("formats specs and OCI platforms", () => {
    expect(formatPlatform({ os: "linux", architecture: "arm64", variant: "v8" })).toBe(
      "linux/arm64/v8",
    );
    expect(formatPlatform({ os: "linux", architecture: "amd64" })).toBe("linux/amd64");
    expect(formatPlatform({ os: "windows", architecture: "amd64", osVersion: "10.0.20348" })).toBe(
      "windows/amd64:10.0.20348",
    );
    expect(
      formatPlatform({ os: "windows", architecture: "amd64", "os.version": "10.0.20348.2113" }),
    ).toBe("windows/amd64:10.0.20348.2113");
  });

  it("round-trips through parsePlatform", () => {
    for (const text of ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "windows/amd64:10.0.1"]) {
      expect(formatPlatform(parsePlatform(text))).toBe(text);
    }
  });
});

describe("platformFromNode", () => {
  it.each([
    ["linux", "x64", { os: "linux", architecture: "amd64" }],
    ["win32", "x64", { os: "windows", architecture: "amd64" }],
    ["linux", "arm", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux", "arm64", { os: "linux", architecture: "arm64" }],
    ["win32", "ia32", { os: "windows", architecture: "386" }],
    ["darwin", "arm64", { os: "darwin", architecture: "arm64" }],
    ["linux", "s390x", { os: "linux", architecture: "s390x" }],
    ["linux", "ppc64", { os: "linux", architecture: "ppc64le" }],
  ])("maps %s/%s", (nodePlatform, nodeArch, expected) => {
    expect(platformFromNode(nodePlatform, nodeArch)).toEqual(expected);
  });
});

describe("matchesPlatform", () => {
  it("requires equal os and architecture", () => {
    const candidate = { os: "linux", architecture: "amd64" };
    expect(matchesPlatform(candidate, { os: "linux", architecture: "amd64" })).toBe(true);
    expect(matchesPlatform(candidate, { os: "windows", architecture: "amd64" })).toBe(false);
    expect(matchesPlatform(candidate, { os: "linux", architecture: "arm64" })).toBe(false);
  });

  it("normalizes architecture aliases on both sides", () => {
    expect(
      matchesPlatform(
        { os: "linux", architecture: "x86_64" },
        { os: "linux", architecture: "amd64" },
      ),
    ).toBe(true);
    expect(
      matchesPlatform(
        { os: "linux", architecture: "arm64" },
        { os: "linux", architecture: "aarch64" },
      ),
    ).toBe(true);
  });

  it("compares variants only when the wanted spec has one", () => {
    const armV6 = { os: "linux", architecture: "arm", variant: "v6" };
    expect(matchesPlatform(armV6, { os: "linux", architecture: "arm" })).toBe(true);
    expect(matchesPlatform(armV6, { os: "linux", architecture: "arm", variant: "v7" })).toBe(false);
    expect(matchesPlatform(armV6, { os: "linux", architecture: "arm", variant: "v6" })).toBe(true);
  });

  it("treats arm64 without a variant as v8 and arm without one as v7", () => {
    const arm64 = { os: "linux", architecture: "arm64" };
    expect(matchesPlatform(arm64, parsePlatform("linux/arm64/v8"))).toBe(true);
    expect(matchesPlatform(arm64, { os: "linux", architecture: "arm64", variant: "v9" })).toBe(
      false,
    );
    expect(
      matchesPlatform(
        { os: "linux", architecture: "arm64", variant: "v8" },
        parsePlatform("linux/arm64"),
      ),
    ).toBe(true);
    expect(matchesPlatform({ os: "linux", architecture: "arm" }, parsePlatform("linux/arm"))).toBe(
      true,
    );
    expect(
      matchesPlatform({ os: "linux", architecture: "arm" }, parsePlatform("linux/armel")),
    ).toBe(false);
  });

  it("matches os.version prefixes component-wise", () => {
    const ltsc2022 = { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2113" };
    const want = (osVersion: string) => ({ os: "windows", architecture: "amd64", osVersion });
    expect(matchesPlatform(ltsc2022, want("10.0.20348"))).toBe(true);
    expect(matchesPlatform(ltsc2022, want("10.0.20348.2113"))).toBe(true);
    expect(matchesPlatform(ltsc2022, want("10"))).toBe(true);
    expect(matchesPlatform(ltsc2022, want("10.0.2034"))).toBe(false);
    expect(matchesPlatform(ltsc2022, want("10.0.20348.2113.1"))).toBe(false);
    expect(matchesPlatform(ltsc2022, want("10.0.17763"))).toBe(false);
    const longer = { os: "windows", architecture: "amd64", "os.version": "10.0.203480.1" };
    expect(matchesPlatform(longer, want("10.0.20348"))).toBe(false);
    expect(matchesPlatform({ os: "windows", architecture: "amd64" }, want("10.0.20348"))).toBe(
      false,
    );
  });
});

describe("compareOsVersions", () => {
  it("compares numerically, component by component", () => {
    expect(compareOsVersions("10.0.9", "10.0.10")).toBeLessThan(0);
    expect(compareOsVersions("10.0.20348.2227", "10.0.20348.2113")).toBeGreaterThan(0);
    expect(compareOsVersions("10.0.17763.5329", "10.0.20348.1")).toBeLessThan(0);
    expect(compareOsVersions("10.0.20348", "10.0.20348")).toBe(0);
    expect(compareOsVersions("10.0.020348", "10.0.20348")).toBe(0);
  });

  it("orders a prefix before its extensions", () => {
    expect(compareOsVersions("10.0.20348", "10.0.20348.1")).toBeLessThan(0);
    expect(compareOsVersions("10.0.20348.1", "10.0.20348")).toBeGreaterThan(0);
    expect(compareOsVersions("", "1")).toBeLessThan(0);
  });

  it("sorts a list of builds", () => {
    const sorted = ["10.0.20348.2227", "10.0.17763.5329", "10.0.20348.2113"].sort(
      compareOsVersions,
    );
    expect(sorted).toEqual(["10.0.17763.5329", "10.0.20348.2113", "10.0.20348.2227"]);
  });
});

describe("selectPlatforms", () => {
  it("keeps every manifest, in order, for all", () => {
    expect(selectPlatforms(linuxIndex, "all")).toEqual({ selected: linuxIndex, missing: [] });
  });

  it("picks one manifest per spec, in index order", () => {
    const choice = selectPlatforms(linuxIndex, [
      parsePlatform("linux/arm64"),
      parsePlatform("linux/amd64"),
    ]);
    expect(choice).toEqual({ selected: [linuxAmd64, linuxArm64], missing: [] });
  });

  it("picks arm/v7 for a bare linux/arm and honours explicit variants", () => {
    expect(selectPlatforms(linuxIndex, [parsePlatform("linux/arm")]).selected).toEqual([
      linuxArmV7,
    ]);
    expect(selectPlatforms(linuxIndex, [parsePlatform("linux/arm/v6")]).selected).toEqual([
      linuxArmV6,
    ]);
  });

  it("takes the first match when no match has an os.version", () => {
    const spec = { os: "linux", architecture: "arm" };
    expect(selectPlatforms(linuxIndex, [spec]).selected).toEqual([linuxArmV6]);
  });

  it("returns no duplicates when several specs pick the same manifest", () => {
    const choice = selectPlatforms(linuxIndex, [
      parsePlatform("linux/amd64"),
      parsePlatform("linux/x86_64"),
    ]);
    expect(choice.selected).toEqual([linuxAmd64]);
  });

  it("reports specs nothing matched", () => {
    const s390x = parsePlatform("linux/s390x");
    const choice = selectPlatforms(linuxIndex, [parsePlatform("linux/amd64"), s390x, s390x]);
    expect(choice).toEqual({ selected: [linuxAmd64], missing: [s390x] });
  });

  it("never matches a descriptor without a platform", () => {
    const choice = selectPlatforms([noPlatform], [parsePlatform("linux/amd64")]);
    expect(choice.selected).toEqual([]);
    expect(choice.missing).toHaveLength(1);
  });

  describe("on a Windows index with three builds", () => {
    it("picks the newest build matching an os.version prefix", () => {
      const choice = selectPlatforms(windowsIndex, [parsePlatform("windows/amd64:10.0.20348")]);
      expect(choice).toEqual({ selected: [windows2022New], missing: [] });
    });

    it("picks an exact build", () => {
      const choice = selectPlatforms(windowsIndex, [
        parsePlatform("windows/amd64:10.0.20348.2113"),
      ]);
      expect(choice.selected).toEqual([windows2022Old]);
    });

    it("picks the newest build of all when no os.version is given", () => {
      const choice = selectPlatforms(windowsIndex, [parsePlatform("windows/amd64")]);
      expect(choice.selected).toEqual([windows2022New]);
    });

    it("keeps index order across several wanted builds", () => {
      const choice = selectPlatforms(windowsIndex, [
        parsePlatform("windows/amd64:10.0.20348.2113"),
        parsePlatform("windows/amd64:10.0.17763"),
      ]);
      expect(choice.selected).toEqual([windows2019, windows2022Old]);
    });

    it("reports a build that is not there", () => {
      const wanted = parsePlatform("windows/amd64:10.0.26100");
      expect(selectPlatforms(windowsIndex, [wanted])).toEqual({ selected: [], missing: [wanted] });
    });

    it("does not let a prefix match across a component boundary", () => {
      const wanted = parsePlatform("windows/amd64:10.0.2034");
      expect(selectPlatforms(windowsIndex, [wanted]).missing).toEqual([wanted]);
    });
  });
});

describe("describeAvailablePlatforms", () => {
  it("lists the platforms an index offers", () => {
    expect(describeAvailablePlatforms([linuxAmd64, linuxArm64, windows2022Old])).toBe(
      "linux/amd64, linux/arm64/v8, windows/amd64:10.0.20348.2113",
    );
  });

  it("leaves out entries without a platform, attestations and duplicates", () => {
    expect(describeAvailablePlatforms([linuxAmd64, attestation, noPlatform, linuxAmd64])).toBe(
      "linux/amd64",
    );
    expect(describeAvailablePlatforms([noPlatform])).toBe("none");
  });
});
