/**
 * ferry serve while `ferry load` commits into the same store: a client that keeps pulling one
 * tag (manifest, then its config and layers, as docker pull does) gets the old image or the new
 * one, complete and matching its digests, on every round; never a tag whose manifest or blobs
 * are missing, never a torn manifest.
 */

import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferry, ferryAsync, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { bodyJson, request, sha256 } from "./http-client.js";
import { startServe } from "./serve-process.js";

const TAG = "example.com/team/app:1";

interface Pulled {
  digest: string;
  problems: string[];
}

/** One pull of the tag through the server: what it got, and what was wrong with it. */
async function pullOnce(base: string): Promise<Pulled> {
  const problems: string[] = [];
  const manifest = await request(base, "/v2/example.com/team/app/manifests/1");
  const digest = String(manifest.headers["docker-content-digest"]);
  if (manifest.status !== 200) problems.push(`manifest: ${manifest.status}`);
  if (sha256(manifest.body) !== digest) problems.push("manifest bytes are not its digest");
  if (problems.length > 0) return { digest, problems };
  const parsed = bodyJson<{ config: { digest: string }; layers: Array<{ digest: string }> }>(
    manifest,
  );
  for (const blob of [parsed.config, ...parsed.layers]) {
    const answer = await request(base, `/v2/example.com/team/app/blobs/${blob.digest}`);
    if (answer.status !== 200) problems.push(`blob ${blob.digest}: ${answer.status}`);
    else if (sha256(answer.body) !== blob.digest) problems.push(`blob ${blob.digest} damaged`);
  }
  return { digest, problems };
}

describe("ferry serve during a load into its store", () => {
  const tmp = tempDir("ferry-serve-load-");
  const store = path.join(tmp.dir, "store");
  const second = path.join(tmp.dir, "second.zip");
  let oldDigest = "";
  let newDigest = "";

  beforeAll(() => {
    const first = createLayout(path.join(tmp.dir, "first"));
    const old = first.image({ layers: [randomLayer(100_000)] });
    first.tag(TAG, old);
    first.finish();
    oldDigest = old.digest;
    // The new image under the same tag, with layers big enough that the load takes a while.
    const next = createLayout(path.join(tmp.dir, "next"));
    const replacement = next.image({
      layers: [randomLayer(24 * 1024 * 1024), randomLayer(8 * 1024 * 1024)],
    });
    next.tag(TAG, replacement);
    next.tag("example.com/team/other:1", next.image({ layers: [randomLayer(4 * 1024 * 1024)] }));
    next.finish();
    newDigest = replacement.digest;
    const firstBundle = path.join(tmp.dir, "first.zip");
    expect(ferry(["save", `oci:${first.dir}`, "-o", firstBundle, "-q"]).code).toBe(0);
    expect(ferry(["save", `oci:${next.dir}`, "-o", second, "-q"]).code).toBe(0);
    expect(ferry(["load", firstBundle, "--store", store, "-q"]).code).toBe(0);
  }, 180_000);
  afterAll(() => tmp.cleanup());

  it("serves the old image or the new one, whole, on every pull while the load commits", async () => {
    const serve = await startServe(store, ["-q"]);
    try {
      const before = await pullOnce(serve.url);
      expect(before).toEqual({ digest: oldDigest, problems: [] });

      let loading = true;
      const load = ferryAsync(["load", second, "--store", store, "-q"]).finally(() => {
        loading = false;
      });
      const seen = new Map<string, number>();
      const problems: string[] = [];
      let rounds = 0;
      // Pull until the load is over, then once more: every round must be whole.
      for (let last = false; !last; ) {
        last = !loading;
        const pulled = await pullOnce(serve.url);
        rounds++;
        seen.set(pulled.digest, (seen.get(pulled.digest) ?? 0) + 1);
        problems.push(...pulled.problems.map((p) => `round ${rounds}: ${p}`));
      }
      const loaded = await load;
      expect(loaded.code, loaded.stderr).toBe(0);
      expect(problems).toEqual([]);
      expect([...seen.keys()].every((d) => d === oldDigest || d === newDigest)).toBe(true);
      // The last round began after the load ended: it got the new image.
      const after = await pullOnce(serve.url);
      expect(after).toEqual({ digest: newDigest, problems: [] });
      const tags = bodyJson<{ repositories: string[] }>(await request(serve.url, "/v2/_catalog"));
      expect(tags.repositories).toEqual(["example.com/team/app", "example.com/team/other"]);
    } finally {
      await serve.stop();
    }
  }, 300_000);
});
