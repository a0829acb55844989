/** The platform `--to docker` defaults to: the engine's `/info` OS and architecture. */

import { describe, expect, it } from "vitest";
import { platformOfInfo } from "../../../src/transports/docker-daemon/engine-platform.js";

describe("platformOfInfo", () => {
  it("reads docker's uname-style architectures as platforms", () => {
    const cases: Array<[os: string, uname: string, platform: Record<string, string>]> = [
      ["linux", "x86_64", { os: "linux", architecture: "amd64" }],
      ["windows", "x86_64", { os: "windows", architecture: "amd64" }],
      ["linux", "aarch64", { os: "linux", architecture: "arm64" }],
      ["linux", "armv7l", { os: "linux", architecture: "arm", variant: "v7" }],
    ];
    for (const [os, uname, platform] of cases) {
      expect(platformOfInfo({ OSType: os, Architecture: uname })).toEqual(platform);
    }
  });

  it("is undefined when the engine does not say (this machine's platform is used then)", () => {
    expect(platformOfInfo({})).toBeUndefined();
    expect(platformOfInfo({ OSType: "linux", Architecture: "not a platform!" })).toBeUndefined();
  });
});
