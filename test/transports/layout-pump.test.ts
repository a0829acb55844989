import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { saveBundle } from "../../src/ops/save.js";
import { BundleReader } from "../../src/transports/bundle/reader.js";
import { BundleSource } from "../../src/transports/bundle/source.js";
import { DirectoryFiles } from "../../src/transports/layout/layout-files.js";
import { LayoutSource } from "../../src/transports/layout/source.js";
import type { Descriptor } from "../../src/types/descriptor.js";
import { run, tempDir } from "../helpers/cli.js";
import { sha256, threeImageLayout } from "../helpers/oci-layout.js";
import { checkHeaders } from "./bundle/zip-headers.js";

/** A layout of three images (a 3 MiB shared base: several pump chunks) and its source. */
async function layout(dir: string): Promise<{ root: string; source: LayoutSource }> {
  const root = path.join(dir, "oci");
  threeImageLayout(root, { base: 3 * 1024 * 1024 + 77, own: 20 * 1024 });
  const source = await LayoutSource.open(new DirectoryFiles(root), {
    transport: `oci:${root}`,
    fallbackRepository: "localhost/pump",
  });
  return { root, source };
}

/** Only image configs are streamed (the plan reads and checks each once); no layer is. */
function streamedOnlyConfigs(calls: Array<[Descriptor]>): void {
  expect(calls.length).toBeGreaterThan(0);
  for (const [descriptor] of calls) expect(descriptor.mediaType).toMatch(/config/);
}

function blobFile(root: string, digest: string): string {
  return path.join(root, "blobs", "sha256", digest.slice("sha256:".length));
}

/** The largest layer of the layout's first image. */
async function bigLayer(source: LayoutSource): Promise<Descriptor> {
  const [image] = await source.images();
  const manifest = JSON.parse(
    (await source.fetchManifest((image as { descriptor: Descriptor }).descriptor)).toString(),
  );
  return [...manifest.layers].sort((a: Descriptor, b: Descriptor) => b.size - a.size)[0];
}

describe("oci: layouts read positionally (the verified pump)", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("a blob reader reads the file in place: same bytes, its size, reads past the end return 0", async () => {
    const dir = path.join(tmp.dir, "reader");
    const { root, source } = await layout(dir);
    const layer = await bigLayer(source);
    const reader = await source.blobReader(layer);
    expect(reader).toBeDefined();
    const bytes = Buffer.alloc(layer.size);
    let at = 0;
    while (at < layer.size) {
      const n = await reader?.read(bytes, at, Math.min(1024 * 1024, layer.size - at), at);
      expect(n).toBeGreaterThan(0);
      at += n as number;
    }
    expect(`sha256:${sha256(bytes)}`).toBe(layer.digest);
    expect(await reader?.read(Buffer.alloc(10), 0, 10, layer.size)).toBe(0);
    await reader?.close();
    await reader?.close();
    expect(readFileSync(blobFile(root, layer.digest)).equals(bytes)).toBe(true);
    await source.close();
  });

  it("a blob file of the wrong size is refused before a byte is copied (ESIZE); a missing one is ENOTFOUND", async () => {
    const dir = path.join(tmp.dir, "sizes");
    const { root, source } = await layout(dir);
    const layer = await bigLayer(source);
    truncateSync(blobFile(root, layer.digest), layer.size - 1);
    await expect(source.blobReader(layer)).rejects.toMatchObject({
      code: "ESIZE",
      message: expect.stringContaining(layer.digest),
      details: { digest: layer.digest, expected: layer.size, found: layer.size - 1 },
    });
    const absent = { ...layer, digest: `sha256:${"e".repeat(64)}` } as Descriptor;
    await expect(source.blobReader(absent)).rejects.toMatchObject({
      code: "ENOTFOUND",
      message: expect.stringContaining(absent.digest),
    });
    await source.close();
  });

  it("ferry save from oci:DIR copies every layer through the pump into a bundle that checks clean", async () => {
    const dir = path.join(tmp.dir, "save");
    const { source } = await layout(dir);
    const streamed = vi.spyOn(source, "openBlob");
    const output = path.join(dir, "out", "b.zip");
    mkdirSync(path.dirname(output));
    const report = await saveBundle([{ source, platforms: "all" }], {
      output,
      tool: "ferry test",
    });
    streamedOnlyConfigs(streamed.mock.calls);
    expect(report.images).toHaveLength(3);
    expect(run("unzip", ["-tq", output]).code).toBe(0);
    expect((await checkHeaders(output)).problems).toEqual([]);
    const back = new BundleSource(await BundleReader.open(output));
    const layer = await bigLayer(source);
    const chunks: Buffer[] = [];
    for await (const chunk of await back.openBlob(layer)) chunks.push(chunk as Buffer);
    expect(`sha256:${sha256(Buffer.concat(chunks))}`).toBe(layer.digest);
    await back.close();
    await source.close();
  });

  it("a corrupted blob file fails the save with EINTEGRITY naming it, and leaves no bundle and no temp file", async () => {
    const dir = path.join(tmp.dir, "corrupt");
    const { root, source } = await layout(dir);
    const layer = await bigLayer(source);
    const file = blobFile(root, layer.digest);
    const bytes = readFileSync(file);
    bytes[2 * 1024 * 1024] = (bytes[2 * 1024 * 1024] ?? 0) ^ 0x01;
    writeFileSync(file, bytes);
    const streamed = vi.spyOn(source, "openBlob");
    const out = path.join(dir, "out");
    mkdirSync(out);
    const error = await saveBundle([{ source, platforms: "all" }], {
      output: path.join(out, "b.zip"),
      tool: "ferry test",
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: "EINTEGRITY",
      message: expect.stringContaining(layer.digest),
      details: { expected: layer.digest },
    });
    streamedOnlyConfigs(streamed.mock.calls);
    expect(readdirSync(out)).toEqual([]);
    await source.close();
  });
});
