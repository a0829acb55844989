import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { copyImages } from "../../src/engine/copy.js";
import { planImage } from "../../src/engine/plan.js";
import { DockerArchiveSource } from "../../src/transports/docker-archive/source.js";
import { StoreSink } from "../../src/transports/layout/sink.js";
import { Store } from "../../src/transports/layout/store.js";
import { openOciArchive } from "../../src/transports/oci-archive/source.js";
import type { Descriptor } from "../../src/types/descriptor.js";
import type { Source } from "../../src/types/transport.js";
import { repoRoot, run, tempDir } from "../helpers/cli.js";
import { sha256 } from "../helpers/oci-layout.js";

const samples = path.join(repoRoot, "samples", "oci");

async function copyAll(source: Source, storeDir: string) {
  const plans = [];
  for (const image of await source.images())
    plans.push(await planImage(source, image, { platforms: "all" }));
  const store = await Store.open(storeDir, { create: true });
  return copyImages(new StoreSink(store), plans);
}

/** Only image configs were streamed (the plan reads each once); every layer went by the pump. */
function streamedOnlyConfigs(calls: Array<[Descriptor]>): void {
  for (const [descriptor] of calls) expect(descriptor.mediaType).toMatch(/config/);
}

/** Every byte a blob reader gives, reading 1000 at a time until it gives none. */
async function readPositionally(source: Source, descriptor: Descriptor): Promise<Buffer> {
  const reader = await source.capabilities?.blobReader?.(descriptor);
  if (!reader) throw new Error(`${source.label} offers no blob reader`);
  const chunks: Buffer[] = [];
  for (let at = 0; ; ) {
    const buffer = Buffer.alloc(1000);
    const n = await reader.read(buffer, 0, buffer.length, at);
    if (n === 0) break;
    chunks.push(buffer.subarray(0, n));
    at += n;
  }
  await reader.close();
  return Buffer.concat(chunks);
}

/**
 * Read every blob of the source's (first) image positionally and check its size and digest;
 * returns the spy on `openBlob`, set before planning, that counts what was streamed instead.
 */
async function expectEveryBlobReadInPlace(source: Source) {
  const streamed = vi.spyOn(source, "openBlob");
  const [image] = await source.images();
  const plan = await planImage(source, image as NonNullable<typeof image>, { platforms: "all" });
  for (const blob of plan.blobs) {
    const bytes = await readPositionally(source, blob.descriptor);
    expect(bytes.length).toBe(blob.descriptor.size);
    expect(`sha256:${sha256(bytes)}`).toBe(blob.descriptor.digest);
  }
  return streamed;
}

function skopeo(args: string[]): string {
  const result = run("skopeo", args);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

describe("docker-archive written by skopeo (the classic docker save layout)", () => {
  const tmp = tempDir();
  const archive = path.join(tmp.dir, "images.tar");
  beforeAll(() => {
    skopeo([
      "copy",
      `oci:${samples}:example.com/ferry/hello:1.0`,
      `docker-archive:${archive}:example.com/ferry/hello:1.0`,
    ]);
  });
  afterAll(() => tmp.cleanup());

  it("reads the image under its RepoTag with layer digests matching skopeo's view", async () => {
    const source = await DockerArchiveSource.open(archive);
    const [image] = await source.images();
    expect(image?.name).toBe("example.com/ferry/hello:1.0");
    const plan = await planImage(source, image as NonNullable<typeof image>, { platforms: "all" });
    const info = JSON.parse(skopeo(["inspect", `docker-archive:${archive}`]));
    const layers = plan.blobs
      .filter((b) => b.role.startsWith("layer"))
      .map((b) => b.descriptor.digest);
    expect(layers).toEqual(info.Layers);
    expect(plan.platforms[0]).toMatchObject({ os: "linux", architecture: "amd64" });
    const result = await copyAll(source, path.join(tmp.dir, "store"));
    expect(result.committed).toBe(true);
    await source.close();
  });

  it("layers are read in place through the tar index (the verified pump), not streamed", async () => {
    const source = await DockerArchiveSource.open(archive);
    const streamed = await expectEveryBlobReadInPlace(source);
    const result = await copyAll(source, path.join(tmp.dir, "store-pump"));
    expect(result.committed).toBe(true);
    streamedOnlyConfigs(streamed.mock.calls);
    await source.close();
  });

  it("selects one image by name or by @N, and names what it holds when asked for another", async () => {
    const byName = await DockerArchiveSource.open(archive, "example.com/ferry/hello:1.0");
    expect((await byName.images()).length).toBe(1);
    await byName.close();
    const byIndex = await DockerArchiveSource.open(archive, "@0");
    expect((await byIndex.images()).length).toBe(1);
    await byIndex.close();
    await expect(DockerArchiveSource.open(archive, "nothere:1")).rejects.toMatchObject({
      code: "ENOTFOUND",
      hint: expect.stringMatching(/it holds: example.com\/ferry\/hello:1.0/),
    });
  });
});

describe("docker-archive in the Docker 25+ layout (OCI layout inside, digests kept)", () => {
  const tmp = tempDir();
  const archive = path.join(tmp.dir, "docker25.tar");
  let manifestDigest = "";

  beforeAll(() => {
    // Build what Docker 25+ `docker save` writes: an OCI layout with containerd's name
    // annotation, plus manifest.json whose paths point into blobs/sha256.
    const root = path.join(tmp.dir, "d25");
    run("cp", ["-r", samples, root]);
    const index = JSON.parse(readFileSync(path.join(root, "index.json"), "utf8"));
    const hello = index.manifests.find((m: { annotations: Record<string, string> }) =>
      m.annotations["org.opencontainers.image.ref.name"]?.endsWith("hello:1.0"),
    );
    manifestDigest = hello.digest;
    const manifest = JSON.parse(
      readFileSync(path.join(root, "blobs", "sha256", hello.digest.slice(7)), "utf8"),
    );
    writeFileSync(
      path.join(root, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            ...hello,
            annotations: {
              "io.containerd.image.name": "example.com/ferry/hello:1.0",
              "org.opencontainers.image.ref.name": "1.0",
            },
          },
        ],
      }),
    );
    writeFileSync(
      path.join(root, "manifest.json"),
      JSON.stringify([
        {
          Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
          RepoTags: ["example.com/ferry/hello:1.0"],
          Layers: manifest.layers.map(
            (l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`,
          ),
        },
      ]),
    );
    mkdirSync(path.join(root, "extra"), { recursive: true });
    expect(run("tar", ["-C", root, "-cf", archive, "."]).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it("keeps the original manifest digest", async () => {
    const source = await DockerArchiveSource.open(archive);
    const images = await source.images();
    expect(images.map((i) => [i.name, i.descriptor.digest])).toEqual([
      ["example.com/ferry/hello:1.0", manifestDigest],
    ]);
    const result = await copyAll(source, path.join(tmp.dir, "store"));
    expect(result.images[0]?.descriptor.digest).toBe(manifestDigest);
    await source.close();
  });
});

describe("oci-archive written by skopeo", () => {
  const tmp = tempDir();
  const archive = path.join(tmp.dir, "layout.tar");
  beforeAll(() => {
    skopeo([
      "copy",
      "--all",
      `oci:${samples}:example.com/ferry/hello:multi`,
      `oci-archive:${archive}:example.com/ferry/hello:multi`,
    ]);
  });
  afterAll(() => tmp.cleanup());

  it("reads the multi-platform index in place with its digest unchanged", async () => {
    const index = JSON.parse(readFileSync(path.join(samples, "index.json"), "utf8"));
    const multi = index.manifests.find((m: { annotations: Record<string, string> }) =>
      m.annotations["org.opencontainers.image.ref.name"]?.endsWith(":multi"),
    );
    const source = await openOciArchive(archive);
    const [image] = await source.images();
    expect(image?.name).toBe("example.com/ferry/hello:multi");
    expect(image?.descriptor.digest).toBe(multi.digest);
    const result = await copyAll(source, path.join(tmp.dir, "store"));
    expect(result.images[0]?.platforms).toHaveLength(3);
    await source.close();
  });

  it("blobs are read in place through the tar index: the stream's bytes, stopping at the entry's end", async () => {
    const source = await openOciArchive(archive);
    const streamed = await expectEveryBlobReadInPlace(source);
    streamed.mockClear();
    const result = await copyAll(source, path.join(tmp.dir, "store-pump"));
    expect(result.committed).toBe(true);
    streamedOnlyConfigs(streamed.mock.calls);
    await source.close();
  });

  it("narrows an index to one platform (the name then points at that manifest)", async () => {
    const source = await openOciArchive(archive);
    const [image] = await source.images();
    const plan = await planImage(source, image as NonNullable<typeof image>, {
      platforms: [{ os: "linux", architecture: "arm64" }],
    });
    expect(plan.root.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(plan.sourceIndexDigest).toBe(image?.descriptor.digest);
    expect(plan.platforms).toEqual([{ os: "linux", architecture: "arm64", variant: "v8" }]);
    const two = await planImage(source, image as NonNullable<typeof image>, {
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "windows", architecture: "amd64", osVersion: "10.0.20348" },
      ],
    });
    expect(two.root.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    const narrowed = JSON.parse(two.manifests.at(-1)?.bytes.toString("utf8") ?? "{}");
    expect(narrowed.manifests).toHaveLength(2);
    expect(`sha256:${sha256(two.manifests.at(-1)?.bytes as Buffer)}`).toBe(two.root.digest);
    await expect(
      planImage(source, image as NonNullable<typeof image>, {
        platforms: [{ os: "linux", architecture: "s390x" }],
      }),
    ).rejects.toThrow(/it offers linux\/amd64, linux\/arm64\/v8, windows\/amd64:10.0.20348.2113/);
    await source.close();
  });
});
