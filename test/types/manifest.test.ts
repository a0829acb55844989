import { describe, expect, it } from "vitest";
import { parseBundleManifest } from "../../src/types/bundle.js";
import { parseImageConfig, parseManifest } from "../../src/types/manifest.js";
import { errorOfSync } from "../helpers/errors.js";

const DIGEST = `sha256:${"a".repeat(64)}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function manifestWithConfig(config: Record<string, unknown>) {
  return json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [],
  });
}

describe("validator messages name a missing field as missing, never undefined", () => {
  it.each([
    [
      "a descriptor without a digest",
      manifestWithConfig({ size: 2 }),
      /descriptor digest is missing/,
    ],
    [
      "a descriptor without a size",
      manifestWithConfig({ digest: DIGEST }),
      /has no size \(missing\)/,
    ],
    [
      "a manifest without schemaVersion",
      json({ config: { mediaType: "x", digest: DIGEST, size: 2 }, layers: [] }),
      /schemaVersion is missing, expected 2/,
    ],
  ])("%s", (_name, bytes, message) => {
    const error = errorOfSync(() => parseManifest(bytes, undefined, "manifest m"));
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/^manifest m/);
    expect(error.message).not.toMatch(/undefined/);
    expect(error.code).toBe("EBADIMAGE");
    expect(error.exitCode).toBe(3);
  });

  it("a wrong value is still quoted", () => {
    const error = errorOfSync(() =>
      parseManifest(manifestWithConfig({ digest: DIGEST, size: "2" }), undefined, "m"),
    );
    expect(error.message).toMatch(/invalid size "2"/);
  });

  it("ferry.json without a schema", () => {
    const error = errorOfSync(() => parseBundleManifest(json({ id: "x" })));
    expect(error.message).toMatch(/ferry\.json has no schema \(missing\)/);
    expect(error.message).not.toMatch(/undefined/);
    expect(error.exitCode).toBe(3);
  });
});

describe("image config fields of the wrong JSON type", () => {
  it.each([
    [{ os: 123, architecture: "amd64" }, /config field "os" must be a string, found 123/],
    [
      { os: "linux", architecture: ["amd64"] },
      /config field "architecture" must be a string, found \["amd64"\]/,
    ],
    [
      { os: "linux", architecture: "arm", variant: 7 },
      /config field "variant" must be a string, found 7/,
    ],
    [
      { os: "windows", architecture: "amd64", "os.version": 10 },
      /config field "os.version" must be a string/,
    ],
    [
      { os: "windows", architecture: "amd64", "os.features": "win32k" },
      /"os.features" must be a list of strings/,
    ],
  ])("refuses %j naming the field", (config, message) => {
    const error = errorOfSync(() => parseImageConfig(json(config), "config sha256:abc"));
    expect(error.message).toMatch(/^config sha256:abc: /);
    expect(error.message).toMatch(message);
    expect(error.code).toBe("EBADIMAGE");
    expect(error.exitCode).toBe(3);
  });

  it("accepts a config with string fields and without them", () => {
    expect(parseImageConfig(json({ os: "linux", architecture: "amd64" }), "c").os).toBe("linux");
    expect(parseImageConfig(json({}), "c")).toEqual({});
  });
});
