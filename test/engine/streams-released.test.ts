/**
 * The engine settles only after every stream it opened has let go of its file: a plan that
 * fails on a config, a streamed copy, and a streamed copy that fails on a damaged blob. A
 * caller may close the source and remove its files as soon as the engine answers (a WIM
 * download's temporary folder is removed so; on Windows an open file cannot be removed).
 */

import { appendFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { copyImages } from "../../src/engine/copy.js";
import { type ImagePlan, planImage } from "../../src/engine/plan.js";
import { DirectoryFiles } from "../../src/transports/layout/layout-files.js";
import { LayoutSource } from "../../src/transports/layout/source.js";
import type { Descriptor } from "../../src/types/descriptor.js";
import { tempDir } from "../helpers/cli.js";
import { threeImageLayout } from "../helpers/oci-layout.js";
import { openFilesUnder, streamingDiscard } from "../helpers/open-files.js";
import { flipByte } from "../helpers/zip-tamper.js";

const dirs: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.cleanup();
});

/** An OCI layout folder (its files are read through streams and closed after each read). */
async function layoutSource(): Promise<{ layout: string; source: LayoutSource }> {
  const tmp = tempDir();
  dirs.push(tmp);
  const layout = path.join(tmp.dir, "layout");
  threeImageLayout(layout);
  const source = await LayoutSource.open(new DirectoryFiles(layout), {
    transport: `oci:${layout}`,
    fallbackRepository: "localhost/released",
  });
  return { layout, source };
}

const blobFile = (layout: string, digest: string) =>
  path.join(layout, "blobs", "sha256", digest.slice("sha256:".length));

async function plansOf(source: LayoutSource): Promise<ImagePlan[]> {
  const plans: ImagePlan[] = [];
  for (const image of await source.images())
    plans.push(await planImage(source, image, { platforms: "all" }));
  return plans;
}

describe("the engine answers only after its streams closed their files", () => {
  it("planning a config longer than its descriptor says: none is open when planImage rejects", async () => {
    const { layout, source } = await layoutSource();
    const [image] = await source.images();
    const manifest = JSON.parse(
      (await source.fetchManifest(image?.descriptor as Descriptor)).toString("utf8"),
    );
    appendFileSync(blobFile(layout, manifest.config.digest), "{}");
    const error = await planImage(source, image as NonNullable<typeof image>, {
      platforms: "all",
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "EBADIMAGE", message: expect.stringMatching(/larger/) });
    expect(openFilesUnder(layout)).toEqual([]);
    await source.close();
  });

  it("a streamed copy: no blob file is still open when copyImages resolves", async () => {
    const { layout, source } = await layoutSource();
    const plans = await plansOf(source);
    const result = await copyImages(streamingDiscard(), plans);
    expect(result.blobsCopied).toBeGreaterThan(0);
    expect(openFilesUnder(layout)).toEqual([]);
    await source.close();
  });

  it("a streamed copy that fails on a damaged blob: none is open when copyImages rejects", async () => {
    const { layout, source } = await layoutSource();
    const plans = await plansOf(source);
    const layer = plans[0]?.blobs.find((blob) => blob.role.startsWith("layer"))?.descriptor;
    if (!layer) throw new Error("no layer");
    flipByte(blobFile(layout, layer.digest), 0);
    const error = await copyImages(streamingDiscard(), plans).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "EINTEGRITY" });
    expect(openFilesUnder(layout)).toEqual([]);
    await source.close();
  });
});
