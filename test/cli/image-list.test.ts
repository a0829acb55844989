import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, repoRoot, tempDir } from "../helpers/cli.js";

describe("save -f images.yaml (the nightly refresh sample)", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("saves every listed source with its own platforms, paths relative to the list", () => {
    const bundle = path.join(tmp.dir, "refresh.zip");
    const { code, json } = ferryJson<{ images: Array<{ ref: string; platforms: string[] }> }>([
      "save",
      "-f",
      path.join(repoRoot, "samples", "refresh", "images.yaml"),
      "-o",
      bundle,
    ]);
    expect(code).toBe(0);
    const platforms = Object.fromEntries(json.images.map((i) => [i.ref, i.platforms]));
    expect(platforms["example.com/ferry/hello:multi"]).toEqual([
      "linux/amd64",
      "windows/amd64:10.0.20348.2113",
    ]);
    expect(platforms["example.com/ferry/hello:1.0"]).toEqual(["linux/amd64"]);
    expect(platforms["example.com/ferry/tools:latest"]).toEqual(["linux/amd64"]);
  });

  it("reports progress as JSON lines on request, and nothing else on stderr", () => {
    const bundle = path.join(tmp.dir, "p.zip");
    const result = ferry([
      "--progress",
      "json",
      "save",
      `oci:${path.join(repoRoot, "samples", "oci")}`,
      "-o",
      bundle,
      "--json",
    ]);
    expect(result.code).toBe(0);
    const lines = result.stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ operation: "saving", event: "start" });
    expect(lines.some((l) => l.event === "blob-done")).toBe(true);
    expect(lines.at(-1)).toMatchObject({ event: "commit" });
  });
});
