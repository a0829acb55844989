import { describe, expect, it } from "vitest";
import type { BundleImage, BundleManifest } from "../../../src/types/bundle.js";
import type { Digest } from "../../../src/types/digest.js";
import { MediaType } from "../../../src/types/media-types.js";
import { escapeHtml, escapeMarkdown } from "../../../src/types/report/escape.js";
import { renderHtml } from "../../../src/types/report/html.js";
import { renderMarkdown } from "../../../src/types/report/markdown.js";
import { buildReport } from "../../../src/types/report/model.js";

const d = (n: number): Digest => `sha256:${n.toString(16).padStart(64, "0")}`;
const { OciLayerGzip: LAYER, OciManifest: MANIFEST, OciConfig: CONFIG } = MediaType;

function image(
  ref: string,
  root: number,
  config: number,
  layers: number[],
  extra: Partial<BundleImage> = {},
): BundleImage {
  return {
    ref,
    digest: d(root),
    mediaType: MANIFEST,
    size: 1000,
    platforms: ["linux/amd64"],
    source: "oci:/layout",
    blobs: [d(root), d(config), ...layers.map(d)],
    kind: "image",
    ...extra,
  };
}

function bundle(
  images: BundleImage[],
  carried: number[],
  required: number[] = [],
  extra: Partial<BundleManifest> = {},
): BundleManifest {
  const typeOf = (n: number) => (n < 100 ? MANIFEST : n < 200 ? CONFIG : LAYER);
  return {
    schema: "ferry.bundle/v1",
    id: "bundle-1",
    created: "2026-01-01T00:00:00Z",
    tool: "ferry test",
    images,
    blobs: carried.map((n) => ({ digest: d(n), size: n, mediaType: typeOf(n), integrity: "x" })),
    requires: required.map((n) => ({ digest: d(n), size: n, mediaType: typeOf(n) })),
    base: required.length ? { kind: "bundle", id: "old-1", description: "old.zip" } : null,
    files: {},
    ...extra,
  };
}

const HOSTILE = `<img src=x onerror=alert(1)>"'&|*[x](javascript:1)\n# heading`;

describe("escaping text from a bundle", () => {
  it("HTML: markup characters become entities, controls are shown escaped", () => {
    expect(escapeHtml(`<b a="1">'&`)).toBe("&lt;b a=&quot;1&quot;&gt;&#39;&amp;");
    expect(escapeHtml("a\nb\x1b[2J")).toBe("a\\nb\\x1b[2J");
  });
  it("Markdown: no tag, link, cell or heading can start", () => {
    const text = escapeMarkdown(HOSTILE);
    expect(text).not.toMatch(/<|\n|(?<!\\)\||(?<!\\)\[/);
  });
  it("a hostile source, tool, id, base and artifact type cannot inject markup in either format", () => {
    const hostile = bundle(
      [
        image("example.com/app:1", 1, 101, [201], {
          source: HOSTILE,
          attached: [
            {
              digest: d(2),
              mediaType: MANIFEST,
              size: 10,
              artifactType: HOSTILE,
              subject: d(1),
              foundBy: "referrers-tag",
              kind: "attestation",
            },
          ],
          blobs: [d(1), d(101), d(201), d(2)],
        }),
      ],
      [1, 101, 201, 2],
      [],
      { id: HOSTILE, tool: HOSTILE, base: { kind: HOSTILE, description: HOSTILE } },
    );
    const report = buildReport({ bundle: HOSTILE, manifest: hostile });
    const html = renderHtml(report);
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    // the only tags are the page's own
    const pageTags =
      "!doctype b body br code h1 h2 h3 head html meta p section span style table td th title tr";
    const tags = new Set(
      [...html.matchAll(/<\/?([a-zA-Z!][a-zA-Z0-9]*)/g)].map((m) => m[1]?.toLowerCase()),
    );
    expect([...tags].filter((t) => !pageTags.split(" ").includes(t ?? ""))).toEqual([]);
    expect(html).not.toMatch(/<script|https?:|<[^>]*\s(src|href|on\w+)=/i);
    const md = renderMarkdown(report);
    expect(md).not.toContain("<img");
    expect(md).not.toContain("\n# heading");
    // every table row keeps its cell count
    for (const line of md.split("\n").filter((l) => l.startsWith("| example.com"))) {
      expect(line.split(/(?<!\\)\|/).length).toBe(
        md
          .split("\n")
          .find((l) => l.startsWith("| Image |"))
          ?.split("|").length,
      );
    }
  });
});

describe("what the report says", () => {
  const full = bundle(
    [image("example.com/base:1", 1, 101, [201]), image("example.com/app:1", 2, 102, [201, 202])],
    [1, 2, 101, 102, 201, 202],
  );

  it("lists each image with its digest, and the layers images share", () => {
    const report = buildReport({ bundle: "b.zip", manifest: full });
    expect(report.images.map((i) => [i.ref, i.digest, i.delta])).toEqual([
      ["example.com/base:1", d(1), null],
      ["example.com/app:1", d(2), null],
    ]);
    expect(report.images[1]?.sharedLayers).toEqual([
      { digest: d(201), size: 201, with: ["example.com/base:1"] },
    ]);
    expect(report.sizes).toEqual({
      carriedBlobs: 6,
      carriedBytes: 1 + 2 + 101 + 102 + 201 + 202,
      requiredBlobs: 0,
      requiredBytes: 0,
    });
    const html = renderHtml(report);
    for (const digest of [d(1), d(2), d(201)]) expect(html).toContain(digest);
    expect(html).toContain("@media print");
  });

  it("a delta alone: same-layers (every layer from the base), updated (new content on base layers), new", () => {
    const delta = bundle(
      [
        image("example.com/base:1", 1, 101, [201]),
        image("example.com/app:2", 3, 103, [201, 203]),
        image("example.com/fresh:1", 4, 104, [204]),
      ],
      [1, 3, 4, 101, 103, 104, 203, 204],
      [201],
    );
    const report = buildReport({ bundle: "d.zip", manifest: delta });
    expect(report.images.map((i) => i.delta)).toEqual(["same-layers", "updated", "new"]);
    expect(report.base).toEqual({ kind: "bundle", id: "old-1", description: "old.zip" });
    expect(renderMarkdown(report)).toContain("| updated |");
  });

  it("--since: added, removed, changed with old and new digests", () => {
    const newer = bundle(
      [
        image("example.com/app:1", 3, 102, [201]),
        image("example.com/base:1", 1, 101, [201]),
        image("example.com/new:1", 5, 105, [205]),
      ],
      [1, 3, 5, 101, 102, 105, 201, 205],
    );
    const older = bundle(
      [
        image("example.com/app:1", 2, 102, [201]),
        image("example.com/base:1", 1, 101, [201]),
        image("example.com/gone:1", 6, 106, [206]),
      ],
      [1, 2, 6, 101, 102, 106, 201, 206],
    );
    const report = buildReport({
      bundle: "new.zip",
      manifest: newer,
      since: { bundle: "old.zip", manifest: older },
    });
    expect(report.since?.changes).toEqual([
      { ref: "example.com/app:1", change: "changed", oldDigest: d(2), newDigest: d(3) },
      { ref: "example.com/base:1", change: "unchanged", oldDigest: d(1), newDigest: d(1) },
      { ref: "example.com/gone:1", change: "removed", oldDigest: d(6), newDigest: null },
      { ref: "example.com/new:1", change: "added", oldDigest: null, newDigest: d(5) },
    ]);
    const html = renderHtml(report);
    expect(html).toContain("Changes since old.zip");
    for (const digest of [d(2), d(3), d(5), d(6)]) expect(html).toContain(digest);
  });

  it("signatures: verified with which key, or not; SBOM and attestation types; signer", () => {
    const attached = (
      n: number,
      kind: "signature" | "sbom" | "attestation",
      artifactType?: string,
    ) => ({
      digest: d(n),
      mediaType: MANIFEST,
      size: 10,
      subject: d(1),
      foundBy: "cosign-tag" as const,
      kind,
      ...(artifactType ? { artifactType } : {}),
    });
    const signed = bundle(
      [
        image("example.com/app:1", 1, 101, [201], {
          blobs: [d(1), d(101), d(201), d(7), d(8), d(9)],
          attached: [
            attached(7, "signature"),
            attached(8, "sbom", "application/spdx+json"),
            attached(9, "attestation", "application/vnd.in-toto+json"),
          ],
        }),
      ],
      [1, 101, 201, 7, 8, 9],
    );
    const report = buildReport({
      bundle: "s.zip",
      manifest: signed,
      signer: { keyId: "abcd", verified: true },
      cosign: {
        keys: ["cosign.pub"],
        images: [{ ref: "example.com/app:1", signed: true, keys: ["cosign.pub"], rejected: [] }],
      },
    });
    const md = renderMarkdown(report);
    expect(md).toContain(
      "1 signature(s), verified with cosign.pub; SBOM; attestations: application/vnd.in-toto+json",
    );
    expect(md).toContain("Signer: abcd (verified against a --trust key)");
    const refused = buildReport({
      bundle: "s.zip",
      manifest: signed,
      cosign: {
        keys: ["other.pub"],
        images: [
          {
            ref: "example.com/app:1",
            signed: false,
            keys: [],
            rejected: ["signature by another key"],
          },
        ],
      },
    });
    expect(renderHtml(refused)).toContain(
      '<span class="bad">1 signature(s), NOT verified: signature by another key',
    );
  });
});
