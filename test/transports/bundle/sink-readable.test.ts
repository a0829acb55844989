/**
 * The bundle sink's last check: a ferry.json that `verify` and `load` would refuse is never
 * written (the save fails and leaves no file), whatever a source let through.
 */

import { readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256Digest } from "../../../src/digest/sha256.js";
import { BundleSink } from "../../../src/transports/bundle/sink.js";
import { MediaType } from "../../../src/types/media-types.js";
import { tempDir } from "../../helpers/cli.js";
import { errorOf } from "../../helpers/errors.js";

describe("BundleSink refuses to write a bundle its own readers refuse", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("an image name that is not a full reference fails the commit; nothing is left", async () => {
    const target = path.join(tmp.dir, "unreadable.zip");
    const sink = await BundleSink.create(target, { tool: "ferry test" });
    const manifest = Buffer.from("{}");
    const descriptor = {
      mediaType: MediaType.OciManifest,
      digest: sha256Digest(manifest),
      size: manifest.length,
    };
    await sink.putManifest(descriptor, manifest);
    sink.addImage({
      name: `os.ferry.invalid/${"n".repeat(300)}:10.0.20348.2113`,
      descriptor,
      origin: "test",
      platforms: [],
      size: manifest.length,
      contents: [descriptor],
    });
    const error = await errorOf(sink.commit());
    await sink.abort();
    expect(error.message).toContain("would not pass its own verify");
    expect(error.message).toContain("not a full image reference");
    expect(readdirSync(tmp.dir)).toEqual([]);
  });
});
