import { createHash } from "node:crypto";
import { appendFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, repoRoot, run, samplesOci, tempDir } from "../helpers/cli.js";

const samplesDocker = path.join(repoRoot, "samples", "docker-save.tar");

function blobFile(store: string, digest: string): string {
  return path.join(store, "blobs", "sha256", digest.slice(7));
}

describe("store care: export, history, inspect, log, check", () => {
  const tmp = tempDir();
  const bundle = path.join(tmp.dir, "b.zip");
  const store = path.join(tmp.dir, "store");

  beforeAll(() => {
    expect(
      ferry(["save", `oci:${samplesOci}`, `docker-archive:${samplesDocker}`, "-o", bundle]).code,
    ).toBe(0);
    expect(ferry(["load", bundle, "--store", store]).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it("export writes a docker-load tarball that skopeo reads, layers matching the configs", () => {
    const tar = path.join(tmp.dir, "images.tar");
    const refs = ["example.com/ferry/hello:1.0", "example.com/ferry/tools:1.0"];
    const { code, json } = ferryJson<{ images: Array<{ ref: string; repoTag: string }> }>([
      "export",
      ...refs,
      "--store",
      store,
      "-o",
      tar,
    ]);
    expect(code).toBe(0);
    expect(json.images.map((i) => i.repoTag)).toEqual(refs);
    const listing = run("tar", ["tf", tar]).stdout.split("\n");
    expect(listing).toContain("manifest.json");
    expect(listing).toContain("index.json");
    expect(listing).toContain("oci-layout");
    for (const ref of refs) {
      const info = run("skopeo", ["inspect", `docker-archive:${tar}:${ref}`]);
      expect(info.code, info.stderr).toBe(0);
      const inspected = ferryJson<{
        configs: Array<{ config: { rootfs: { diff_ids: string[] } } }>;
      }>(["inspect", ref, "--store", store]);
      expect(JSON.parse(info.stdout).Layers).toEqual(
        inspected.json.configs[0]?.config.rootfs.diff_ids,
      );
    }
  });

  it("load --docker-archive writes the same kind of tarball straight from a verified bundle", () => {
    const tar = path.join(tmp.dir, "from-bundle.tar");
    const result = ferry(["load", bundle, "--docker-archive", tar, "--platform", "linux/amd64"]);
    expect(result.code, result.stderr).toBe(0);
    const info = run("skopeo", ["inspect", `docker-archive:${tar}:example.com/ferry/hello:multi`]);
    expect(info.code, info.stderr).toBe(0);
  });

  it("history lists layers newest first with their commands", () => {
    const { code, json } = ferryJson<{ rows: Array<{ createdBy: string; layer: string }> }>([
      "history",
      "example.com/ferry/tools:1.0",
      "--store",
      store,
    ]);
    expect(code).toBe(0);
    expect(json.rows.map((r) => r.createdBy)).toEqual(["tools", "base"]);
  });

  it("log records which bundle installed which images", () => {
    const { json } = ferryJson<
      Array<{ action: string; bundle: string; images: Array<{ name: string }> }>
    >(["log", "--store", store]);
    expect(json[0]?.action).toBe("load");
    expect(json[0]?.bundle).toBe(bundle);
    expect(json[0]?.images).toHaveLength(4);
  });

  it("check finds a flipped byte, a missing blob and an index entry without its manifest, naming the images", () => {
    const damaged = path.join(tmp.dir, "damaged");
    run("cp", ["-r", store, damaged]);
    expect(ferry(["check", "--store", damaged]).code).toBe(0);
    const index = JSON.parse(readFileSync(path.join(damaged, "index.json"), "utf8"));
    const byName = (suffix: string) =>
      index.manifests.find((m: { annotations: Record<string, string> }) =>
        m.annotations["org.opencontainers.image.ref.name"]?.endsWith(suffix),
      );
    const hello = JSON.parse(readFileSync(blobFile(damaged, byName("hello:1.0").digest), "utf8"));
    const tools = JSON.parse(readFileSync(blobFile(damaged, byName("tools:1.0").digest), "utf8"));
    appendFileSync(blobFile(damaged, hello.layers[1].digest), "x");
    rmSync(blobFile(damaged, tools.layers[1].digest));
    // a name pointing at a manifest that is not there
    index.manifests.push({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: `sha256:${"0".repeat(64)}`,
      size: 10,
      annotations: { "org.opencontainers.image.ref.name": "example.com/ferry/ghost:1" },
    });
    writeFileSync(path.join(damaged, "index.json"), JSON.stringify(index));
    const { code, json } = ferryJson<{
      ok: boolean;
      problems: Array<{ kind: string; digest: string; images: string[] }>;
    }>(["check", "--store", damaged]);
    expect(code).toBe(3);
    expect(json.ok).toBe(false);
    const problem = (kind: string, digest: string) =>
      json.problems.find((p) => p.kind === kind && p.digest === digest);
    expect(problem("damaged-blob", hello.layers[1].digest)?.images).toEqual([
      "example.com/ferry/hello:1.0",
      "example.com/ferry/hello:multi",
    ]);
    expect(problem("missing-blob", tools.layers[1].digest)?.images).toEqual([
      "example.com/ferry/tools:1.0",
      "example.com/ferry/tools:latest",
    ]);
    expect(problem("missing-blob", `sha256:${"0".repeat(64)}`)?.images).toEqual([
      "example.com/ferry/ghost:1",
    ]);
  });

  it("check --repair removes only garbage, quarantines damage, and a reload heals the store", () => {
    const healing = path.join(tmp.dir, "healing");
    run("cp", ["-r", store, healing]);
    const orphan = Buffer.from("an orphan blob no image names");
    writeFileSync(
      blobFile(healing, `sha256:${createHash("sha256").update(orphan).digest("hex")}`),
      orphan,
    );
    const index = JSON.parse(readFileSync(path.join(healing, "index.json"), "utf8"));
    const hello = JSON.parse(readFileSync(blobFile(healing, index.manifests[0].digest), "utf8"));
    const victim = hello.layers?.[0]?.digest ?? hello.manifests[0].digest;
    appendFileSync(blobFile(healing, victim), "x");
    const repaired = ferryJson<{ repaired: { orphansRemoved: number; quarantined: string[] } }>([
      "check",
      "--repair",
      "--store",
      healing,
    ]);
    expect(repaired.json.repaired.quarantined).toEqual([victim]);
    expect(repaired.json.repaired.orphansRemoved).toBe(1);
    expect(ferry(["load", bundle, "--store", healing]).code).toBe(0);
    expect(ferry(["check", "--store", healing]).code).toBe(0);
  });
});
