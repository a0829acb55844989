/**
 * `ferry export` and `ferry load --docker-archive` on a damaged blob: a clean EINTEGRITY that
 * names the blob and the image (exit 3, no stack trace), and neither the tarball nor its temp
 * file is left behind.
 */

import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, samplesOci, tempDir } from "../helpers/cli.js";
import { corruptEntry } from "../helpers/zip-tamper.js";

const IMAGE = "example.com/ferry/hello:1.0";

describe("a damaged blob on the way to a docker tarball", () => {
  const tmp = tempDir("ferry-export-damaged-");
  const bundle = path.join(tmp.dir, "b.zip");
  const store = path.join(tmp.dir, "store");
  let layer: string;

  beforeAll(() => {
    expect(ferry(["save", `oci:${samplesOci}`, "-o", bundle, "-q"]).code).toBe(0);
    expect(ferry(["load", bundle, "--store", store, "-q"]).code).toBe(0);
    const index = JSON.parse(readFileSync(path.join(store, "index.json"), "utf8"));
    const entry = index.manifests.find(
      (d: { annotations: Record<string, string> }) =>
        d.annotations["org.opencontainers.image.ref.name"] === IMAGE,
    );
    const manifest = JSON.parse(
      readFileSync(path.join(store, "blobs", "sha256", entry.digest.slice(7)), "utf8"),
    );
    layer = manifest.layers[0].digest;
  });
  afterAll(() => tmp.cleanup());

  const expectCleanFailure = (result: { code: number; stderr: string }, outDir: string) => {
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain("[EINTEGRITY]");
    expect(result.stderr).toContain(layer);
    expect(result.stderr).toContain(IMAGE);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).toMatch(/^hint: nothing was written/m);
    expect(readdirSync(outDir)).toEqual([]);
  };

  it("export from a store whose layer changed on disk", () => {
    const file = path.join(store, "blobs", "sha256", layer.slice(7));
    const bytes = readFileSync(file);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    chmodSync(file, 0o644);
    writeFileSync(file, bytes);
    const out = path.join(tmp.dir, "export-out");
    mkdirSync(out);
    const result = ferry(["export", IMAGE, "--store", store, "-o", path.join(out, "images.tar")]);
    expectCleanFailure(result, out);
    expect(result.stderr).toContain("ferry check");
  });

  it("load --docker-archive from a bundle whose layer changed", async () => {
    const bad = path.join(tmp.dir, "bad.zip");
    writeFileSync(bad, readFileSync(bundle));
    await corruptEntry(bad, `blobs/sha256/${layer.slice(7)}`);
    const out = path.join(tmp.dir, "load-out");
    mkdirSync(out);
    const result = ferry([
      "load",
      bad,
      "--docker-archive",
      path.join(out, "images.tar"),
      "--platform",
      "linux/amd64",
    ]);
    expectCleanFailure(result, out);
    expect(existsSync(path.join(out, "images.tar"))).toBe(false);
  });
});
