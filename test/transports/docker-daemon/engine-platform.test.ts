/** The platform `--to docker` defaults to: the engine's `/info` OS and architecture. */

import { describe, expect, it } from "vitest";
import { platformOfInfo } from "../../../src/transports/docker-daemon/engine-platform.js";

describe("platformOfInfo", () => {
  it("reads docker's uname-style architectures as platforms", () => {
    expect(platformOfInfo({ OSType: "linux", Architecture: "x86_64" })).toEqual({
      os: "linux",
      architecture: "amd64",
    });
    expect(platformOfInfo({ OSType: "windows", Architecture: "x86_64" })).toEqual({
      os: "windows",
      architecture: "amd64",
    });
    expect(platformOfInfo({ OSType: "linux", Architecture: "aarch64" })).toEqual({
      os: "linux",
      architecture: "arm64",
    });
    expect(platformOfInfo({ OSType: "linux", Architecture: "armv7l" })).toEqual({
      os: "linux",
      architecture: "arm",
      variant: "v7",
    });
  });

  it("is undefined when the engine does not say (this machine's platform is used then)", () => {
    expect(platformOfInfo({})).toBeUndefined();
    expect(platformOfInfo({ OSType: "linux", Architecture: "not a platform!" })).toBeUndefined();
  });
});
