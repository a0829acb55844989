import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, run, tempDir } from "../helpers/cli.js";
import { blobOf, forgeImage, OCI_INDEX, OCI_MANIFEST } from "../helpers/corpus/forge-bundle.js";
import { fingerprint } from "../helpers/tree.js";
import { smallImage, writeBundle, writeLayout } from "./hostile-images.js";

/**
 * A descriptor's mediaType must agree with the manifest it names. A bundle whose index.json
 * calls an OCI manifest a Docker manifest list (or anything else) used to be loaded as it was:
 * the wrong type landed in the store's index.json and skopeo then could not read the image.
 */

const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

const tmp = tempDir("ferry-media-type-");
const store = path.join(tmp.dir, "store");
let before: Record<string, string> = {};

beforeAll(() => {
  const seed = writeBundle(path.join(tmp.dir, "seed.zip"), [
    forgeImage("forged.example/seed:1", [Buffer.from("seed layer")]),
  ]);
  expect(ferry(["load", seed, "--store", store]).code).toBe(0);
  before = fingerprint(store);
});
afterAll(() => tmp.cleanup());

/** index.json's descriptor of the image says `mediaType` instead of what the manifest is. */
function mistypedRoot(mediaType: string) {
  return (doc: Record<string, unknown>) => {
    for (const entry of doc.manifests as Array<Record<string, unknown>>)
      entry.mediaType = mediaType;
  };
}

function expectRefused(
  result: { code: number; stderr: string },
  image: string,
  declared: string,
  actual: string,
) {
  expect(result.code).toBe(3);
  expect(result.stderr).toContain("[EBADIMAGE]");
  expect(result.stderr).toContain(image);
  expect(result.stderr).toContain(`says mediaType ${declared}`);
  expect(result.stderr).toContain(actual);
}

/** `load BUNDLE` is refused (as expectRefused says) and the store is as it was. */
function expectLoadRefused(bundle: string, image: string, declared: string, actual: string) {
  expectRefused(ferry(["load", bundle, "--store", store]), image, declared, actual);
  expect(fingerprint(store)).toEqual(before);
}

describe("a root descriptor whose media type disagrees with its manifest", () => {
  const cases: Array<[string, string, string]> = [
    ["an index type for a manifest", DOCKER_LIST, `an image manifest of mediaType ${OCI_MANIFEST}`],
    ["Docker's manifest type for an OCI manifest", DOCKER_MANIFEST, OCI_MANIFEST],
    ["a made-up type", "application/vnd.example.bogus+json", OCI_MANIFEST],
  ];
  for (const [name, declared, actual] of cases) {
    it(`${name}: load refuses it, names both types, and leaves the store as it was`, () => {
      const image = forgeImage("forged.example/app:1", [Buffer.from(`layer for ${name}`)]);
      const bundle = writeBundle(path.join(tmp.dir, `${declared.replace(/\W/g, "_")}.zip`), [
        image,
      ]);
      // The forger writes index.json from the image; only index.json lies.
      const lying = writeBundle(path.join(tmp.dir, `lying-${path.basename(bundle)}`), [image], {
        editIndex: mistypedRoot(declared),
      });
      expect(ferry(["verify", bundle]).code).toBe(0);
      expectLoadRefused(lying, "forged.example/app:1", declared, actual);
      const verify = ferryJson<{ ok: boolean; problems: Array<{ code: string; message: string }> }>(
        ["verify", lying],
      );
      expect(verify.code).toBe(3);
      expect(verify.json.ok).toBe(false);
      expect(verify.json.problems.map((p) => `${p.code} ${p.message}`).join("\n")).toContain(
        `EBADIMAGE manifest ${image.root.digest} of forged.example/app:1: its descriptor says mediaType ${declared}`,
      );
    });
  }
});

describe("a child descriptor whose media type disagrees with its manifest", () => {
  it("an index calling its OCI child a Docker manifest is refused", () => {
    const { manifest, config, layer } = smallImage();
    const root = blobOf(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: [
            {
              mediaType: DOCKER_MANIFEST,
              digest: manifest.digest,
              size: manifest.size,
              platform: { os: "linux", architecture: "amd64" },
            },
          ],
        }),
      ),
      OCI_INDEX,
    );
    const bundle = writeBundle(path.join(tmp.dir, "child.zip"), [
      { ref: "forged.example/child:1", root, contents: [manifest, config, layer] },
    ]);
    expectLoadRefused(bundle, "forged.example/child:1", DOCKER_MANIFEST, OCI_MANIFEST);
  });
});

describe("an OCI layout whose index.json mistypes its image", () => {
  it("save refuses it before writing a bundle", () => {
    const image = forgeImage("x", [Buffer.from("layout layer")]);
    const layout = writeLayout(path.join(tmp.dir, "layout"), image, "v1");
    const mistyped = path.join(tmp.dir, "layout-mistyped");
    cpSync(layout, mistyped, { recursive: true });
    const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8"));
    mistypedRoot(OCI_INDEX)(index);
    writeFileSync(path.join(mistyped, "index.json"), JSON.stringify(index));
    const out = path.join(tmp.dir, "never.zip");
    expectRefused(
      ferry(["save", `oci:${mistyped}:v1`, "-o", out]),
      "localhost/layout-mistyped:v1",
      OCI_INDEX,
      `an image manifest of mediaType ${OCI_MANIFEST}`,
    );
    expect(existsSync(out)).toBe(false);
    expect(ferry(["save", `oci:${layout}:v1`, "-o", path.join(tmp.dir, "fine.zip")]).code).toBe(0);
  });
});

describe("what skopeo sees after a valid load", () => {
  it("reads the image ferry installed, with the media type ferry recorded", () => {
    const good = writeBundle(path.join(tmp.dir, "good.zip"), [
      forgeImage("forged.example/good:1", [Buffer.from("good layer")]),
    ]);
    const own = path.join(tmp.dir, "skopeo-store");
    expect(ferry(["load", good, "--store", own]).code).toBe(0);
    const inspected = run("skopeo", ["inspect", "--raw", `oci:${own}:forged.example/good:1`]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout).mediaType).toBe(OCI_MANIFEST);
    const copied = run("skopeo", [
      "--insecure-policy",
      "copy",
      `oci:${own}:forged.example/good:1`,
      `dir:${path.join(tmp.dir, "skopeo-dir")}`,
    ]);
    expect(copied.code, copied.stderr).toBe(0);
  });
});
