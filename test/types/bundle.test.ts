import { describe, expect, it } from "vitest";
import { judgeEntryName, parseBundleManifest } from "../../src/types/bundle.js";

describe("judgeEntryName (the bundle allow-list)", () => {
  it("accepts the fixed files, sha256 blobs and their directories", () => {
    for (const name of ["oci-layout", "index.json", "ferry.json", "SHA256SUMS", "ferry.json.sig"]) {
      expect(judgeEntryName(name)).toMatchObject({ ok: true, kind: "file" });
    }
    expect(judgeEntryName(`blobs/sha256/${"a".repeat(64)}`)).toEqual({
      ok: true,
      kind: "blob",
      digest: `sha256:${"a".repeat(64)}`,
    });
    expect(judgeEntryName("blobs/sha256/")).toMatchObject({ ok: true, kind: "directory" });
  });

  it.each([
    ["../x", /parent-directory/],
    ["a/../../x", /parent-directory/],
    ["/etc/passwd", /absolute/],
    ["\\\\server\\share", /absolute/],
    ["C:\\x", /drive-letter/],
    ["c:x", /drive-letter/],
    ["blobs\\sha256\\x", /backslash/],
    ["", /empty/],
    ["a\0b", /NUL/],
    [`blobs/sha256/${"A".repeat(64)}`, /not a bundle file name/],
    [`blobs/sha512/${"a".repeat(128)}`, /not a bundle file name/],
    [`blobs/sha256/${"a".repeat(63)}`, /not a bundle file name/],
    ["index.json.", /not a bundle file name/],
    ["CON", /not a bundle file name/],
    ["ferry.json:stream", /not a bundle file name/],
    ["blobs//sha256", /not a bundle file name/],
  ])("rejects %j with a reason", (name, reason) => {
    const verdict = judgeEntryName(name);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toMatch(reason);
  });
});

describe("parseBundleManifest", () => {
  const valid = {
    schema: "ferry.bundle/v1",
    id: "x",
    created: "2026-01-01T00:00:00Z",
    tool: "ferry",
    images: [],
    blobs: [],
    requires: [],
    base: null,
    files: {},
  };
  it("accepts a minimal manifest", () => {
    expect(parseBundleManifest(Buffer.from(JSON.stringify(valid))).id).toBe("x");
  });
  it("refuses another schema with a hint", () => {
    expect(() =>
      parseBundleManifest(Buffer.from(JSON.stringify({ ...valid, schema: "ferry.bundle/v9" }))),
    ).toThrow(/declares schema "ferry.bundle\/v9"/);
  });
  it("lists every malformed field", () => {
    const bad = { ...valid, blobs: [{ digest: "md5:x", size: -1, mediaType: 3 }], images: [{}] };
    try {
      parseBundleManifest(Buffer.from(JSON.stringify(bad)));
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/blobs\[0\] has an invalid digest/);
      expect(message).toMatch(/blobs\[0\] has an invalid size/);
      expect(message).toMatch(/images\[0\] has a ref that is not a full image reference/);
    }
  });
});
