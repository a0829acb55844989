import { describe, expect, it } from "vitest";
import {
  type AttachedArtifact,
  attachedKindOf,
  attachedRecordProblem,
  cosignSuffixOf,
  cosignTag,
  mergeAttached,
  referrersTag,
  selectionKeeps,
} from "../../src/types/attached.js";
import { parseBundleManifest } from "../../src/types/bundle.js";
import { signedDigestOf } from "../../src/types/cosign.js";
import type { Digest } from "../../src/types/digest.js";

const digest = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const image = digest("a");
const signature: AttachedArtifact = {
  digest: digest("b"),
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  size: 500,
  subject: image,
  foundBy: "cosign-tag",
  tag: `sha256-${"a".repeat(64)}.sig`,
  kind: "signature",
};
const sbom: AttachedArtifact = {
  digest: digest("c"),
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  size: 600,
  subject: image,
  foundBy: "referrers-tag",
  artifactType: "application/spdx+json",
  kind: "sbom",
};
const sbomSignature: AttachedArtifact = {
  ...signature,
  digest: digest("d"),
  subject: sbom.digest,
  tag: `sha256-${"c".repeat(64)}.sig`,
};

describe("attached artifact records", () => {
  it("derives the referrers tag and cosign's tags from the subject digest", () => {
    expect(referrersTag(image)).toBe(`sha256-${"a".repeat(64)}`);
    expect(cosignTag(image, "att")).toBe(`sha256-${"a".repeat(64)}.att`);
    expect(cosignSuffixOf(`sha256-${"a".repeat(64)}.sbom`, image)).toBe("sbom");
    expect(cosignSuffixOf(`sha256-${"b".repeat(64)}.sig`, image)).toBeUndefined();
    expect(cosignSuffixOf("latest", image)).toBeUndefined();
  });

  it("refuses a record whose cosign tag is not the one cosign derives (it could move any tag)", () => {
    expect(attachedRecordProblem(signature)).toBeUndefined();
    expect(attachedRecordProblem({ ...signature, tag: "latest" })).toMatch(
      /not sha256-<subject hex>/,
    );
    expect(attachedRecordProblem({ ...signature, tag: `sha256-${"b".repeat(64)}.sig` })).toMatch(
      /not sha256-<subject hex>/,
    );
    expect(attachedRecordProblem({ ...sbom, tag: "v1" })).toMatch(
      /has a tag but is not found by cosign-tag/,
    );
    expect(attachedRecordProblem({ ...sbom, subject: sbom.digest })).toMatch(/names itself/);
    expect(attachedRecordProblem({ ...sbom, foundBy: "magic" })).toMatch(/unknown foundBy/);
  });

  it("tells kinds from the cosign suffix, the buildx annotation or the media types", () => {
    expect(attachedKindOf("cosign-tag", "sha256-x.att", [])).toBe("attestation");
    expect(attachedKindOf("buildx-attestation", undefined, [])).toBe("attestation");
    expect(attachedKindOf("referrers-tag", undefined, ["application/vnd.cyclonedx+json"])).toBe(
      "sbom",
    );
    expect(
      attachedKindOf("referrers-api", undefined, ["application/vnd.cncf.notary.signature"]),
    ).toBe("signature");
    expect(
      attachedKindOf("referrers-api", undefined, ["application/vnd.cncf.helm.config.v1+json"]),
    ).toBe("artifact");
    expect(selectionKeeps({ types: ["sbom"] }, "sbom", [])).toBe(true);
    expect(
      selectionKeeps({ types: ["application/spdx+json"] }, "artifact", ["application/spdx+json"]),
    ).toBe(true);
    expect(selectionKeeps({ types: ["signature"] }, "sbom", [])).toBe(false);
  });

  it("a load with fewer attachments keeps what the store had for the same manifests, chains too", () => {
    const merged = mergeAttached([signature, sbom, sbomSignature], [], new Set([image]));
    expect(merged.map((a) => a.digest)).toEqual([
      signature.digest,
      sbom.digest,
      sbomSignature.digest,
    ]);
    // A record for a manifest the image no longer has goes.
    expect(mergeAttached([signature], [], new Set([digest("e")]))).toEqual([]);
  });
});

describe("ferry.json images[].attached", () => {
  const manifest = (attached: unknown[], blobs: string[]) => ({
    schema: "ferry.bundle/v1",
    id: "x",
    created: "2026-01-01T00:00:00Z",
    tool: "ferry",
    images: [
      {
        ref: "example.com/app:1",
        digest: image,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        size: 1,
        platforms: [],
        source: "x",
        blobs,
        kind: "image",
        attached,
      },
    ],
    blobs: [],
    requires: [],
    base: null,
    files: {},
  });
  const parse = (value: unknown) => () => parseBundleManifest(Buffer.from(JSON.stringify(value)));

  it("accepts records whose artifact and subject the image carries", () => {
    expect(
      parse(manifest([signature], [image, signature.digest]))().images[0]?.attached,
    ).toHaveLength(1);
  });

  it("refuses a record naming a blob the image does not list, or a tag cosign would not use", () => {
    expect(parse(manifest([signature], [image]))).toThrow(/not among the image's blobs/);
    expect(parse(manifest([{ ...signature, tag: "latest" }], [image, signature.digest]))).toThrow(
      /attached\[0\].*sha256-<subject hex>/,
    );
  });
});

describe("simple-signing payloads", () => {
  it("names the signed digest, or says why not", () => {
    const payload = (critical: unknown) =>
      Buffer.from(JSON.stringify({ critical, optional: null }));
    expect(
      signedDigestOf(
        payload({
          identity: { "docker-reference": "r" },
          image: { "docker-manifest-digest": image },
          type: "cosign container image signature",
        }),
      ),
    ).toEqual({ digest: image });
    expect(signedDigestOf(Buffer.from("not json"))).toEqual({ problem: "its payload is not JSON" });
    expect(signedDigestOf(payload({ type: "something else", image: {} }))).toMatchObject({
      problem: expect.stringMatching(/not a cosign container image signature/),
    });
    expect(
      signedDigestOf(payload({ type: "cosign container image signature", image: {} })),
    ).toMatchObject({ problem: expect.stringMatching(/names no image digest/) });
  });
});
