import { describe, expect, it } from "vitest";
import { parseImageList } from "../../src/ops/image-list.js";

describe("parseImageList", () => {
  it("reads strings, mappings with platforms, defaults and WIM files", () => {
    const entries = parseImageList(
      `
defaults:
  platforms: [linux/amd64]
images:
  - docker.io/library/alpine:3.19
  - ref: mcr.microsoft.com/windows/nanoserver:ltsc2022
    platforms: windows/amd64:10.0.20348
files:
  - path: ./NanoServer.wim
  - url: https://example.test/Core.wim
    sha256: ${"A".repeat(64)}
`,
      "images.yaml",
    );
    expect(entries).toEqual([
      { source: "docker.io/library/alpine:3.19", platforms: ["linux/amd64"] },
      {
        source: "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        platforms: ["windows/amd64:10.0.20348"],
      },
      { source: "wim:./NanoServer.wim" },
      { source: "wim:https://example.test/Core.wim", sha256: "a".repeat(64) },
    ]);
  });

  it.each([
    ["images: [", /not valid YAML/],
    ["- a\n- b", /must be a mapping/],
    ["imgs: [a]", /unknown key\(s\) imgs/],
    ["images: [{ref: a, platform: x}]", /images\[0\]: unknown key\(s\) platform/],
    ["images: [{platforms: [a]}]", /images\[0\]: needs `ref`/],
    ["files: [{path: a, url: b}]", /files\[0\]: needs exactly one of `path` or `url`/],
    ["files: [{path: a, sha256: xyz}]", /sha256 must be 64 hex digits/],
    ["images: []", /lists no images or files/],
  ])("refuses %j, naming the entry", (text, message) => {
    expect(() => parseImageList(text, "list.yaml")).toThrow(message);
  });
});
