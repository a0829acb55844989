/**
 * `ferry report`: a transfer report a reviewer approves, made from bundles built from the
 * samples and from layouts written here, rendered in a real browser (headless Chromium; its
 * DOM, and its PDF read back with pdftotext), with cosign signatures made as cosign makes them.
 */

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TransferReport } from "../../src/types/report/model.js";
import {
  digestTag,
  makeCosignSignature,
  makeReferrer,
  makeReferrersIndex,
  makeSigningKey,
  SPDX,
} from "../helpers/attached.js";
import { browserSkipReason, printedText, renderedDom } from "../helpers/browser.js";
import { ferry, ferryAsync, homeEnv, run, samplesOci, tempDir } from "../helpers/cli.js";
import { announceSkip } from "../helpers/engines.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { makeImage, pushImage, startRegistry } from "../helpers/registry.js";
import { corruptEntry } from "../helpers/zip-tamper.js";

const tmp = tempDir("ferry-cli-report-");
const work = tmp.dir;
afterAll(() => tmp.cleanup());

/** A name a hostile vendor could give a layout folder: it lands in ferry.json's `source`. */
const HOSTILE = "<img src=x onerror=alert(1)>";

const reportJson = (...args: string[]) => {
  const result = ferry(["report", ...args, "--format", "json"]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as TransferReport;
};

describe("ferry report on bundles saved from the samples", () => {
  const bundle = path.join(work, "samples.zip");
  const hostileLayout = path.join(work, HOSTILE);
  const hostileBundle = path.join(work, "hostile.zip");

  beforeAll(() => {
    expect(ferry(["save", `oci:${samplesOci}`, "-o", bundle, "-q"]).code).toBe(0);
    cpSync(samplesOci, hostileLayout, { recursive: true });
    expect(ferry(["save", `oci:${hostileLayout}`, "-o", hostileBundle, "-q"]).code).toBe(0);
  });

  it("json and md go to stdout; html is written to -o, atomically (no temp file left)", () => {
    const report = reportJson(bundle);
    expect(report.images.map((i) => i.ref)).toEqual([
      "example.com/ferry/hello:1.0",
      "example.com/ferry/hello:multi",
    ]);
    const multi = report.images[1];
    expect(multi?.osVersions).toEqual(["10.0.20348.2113"]);
    expect(multi?.sharedLayers.map((l) => l.with)).toEqual([
      ["example.com/ferry/hello:1.0"],
      ["example.com/ferry/hello:1.0"],
    ]);
    expect(report.signer).toBeNull();
    const md = ferry(["report", bundle, "--format", "md", "-o", "-"]);
    expect(md.code, md.stderr).toBe(0);
    for (const image of report.images) expect(md.stdout).toContain(image.digest);

    const out = path.join(work, "html-out");
    mkdirSync(out);
    const written = ferry(["report", bundle, "-o", path.join(out, "report.html")]);
    expect(written.code, written.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(["report.html"]);
    const html = readFileSync(path.join(out, "report.html"), "utf8");
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|https?:\/\//i);
  });

  it("a damaged bundle gets no report: a typed error naming the bundle, nothing written", async () => {
    const damaged = path.join(work, "damaged.zip");
    cpSync(bundle, damaged);
    const report = reportJson(bundle);
    const layer = report.images[0]?.sharedLayers[0]?.digest ?? "";
    await corruptEntry(damaged, `blobs/sha256/${layer.slice(7)}`);
    const target = path.join(work, "damaged.html");
    const result = ferry(["report", damaged, "-o", target]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("damaged.zip failed verification");
    expect(result.stderr).toContain("no report written");
    expect(existsSync(target)).toBe(false);
  });

  it("an unknown --format is a usage error", () => {
    const result = ferry(["report", bundle, "--format", "pdf"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("use one of: html, md, json");
  });

  it("a signed bundle names its key, verified with --trust", () => {
    const key = path.join(work, "vendor.key");
    expect(ferry(["keygen", "-o", key]).code).toBe(0);
    const signed = path.join(work, "signed.zip");
    expect(ferry(["save", `oci:${samplesOci}`, "-o", signed, "--sign", key, "-q"]).code).toBe(0);
    const unchecked = reportJson(signed);
    expect(unchecked.signer).toEqual({ keyId: expect.any(String), verified: false });
    const checked = reportJson(signed, "--trust", `${key}.pub`);
    expect(checked.signer).toEqual({ keyId: unchecked.signer?.keyId, verified: true });
    // --trust makes the signer a requirement, as in verify: an unsigned bundle gets no report.
    const refused = path.join(work, "unsigned.html");
    const unsigned = ferry(["report", bundle, "--trust", `${key}.pub`, "-o", refused]);
    expect(unsigned.code).toBe(6);
    expect(unsigned.stderr).toContain("is not signed");
    expect(existsSync(refused)).toBe(false);
    const html = ferry(["report", signed, "--trust", `${key}.pub`]).stdout;
    expect(html).toContain("verified against a --trust key");
  });

  const skip = browserSkipReason();
  announceSkip("the real-browser report tests", skip);

  it.skipIf(skip !== undefined)(
    "Chromium renders the page: the printed PDF's text holds every image digest",
    () => {
      const file = path.join(work, "print.html");
      expect(ferry(["report", bundle, "-o", file]).code).toBe(0);
      const report = reportJson(bundle);
      const { pdf, text } = printedText(file);
      expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
      expect(text).toContain("Transfer report");
      expect(text).toContain(report.id);
      for (const image of report.images) {
        expect(text).toContain(image.digest);
        expect(text).toContain(image.ref);
      }
    },
    180_000,
  );

  it.skipIf(skip !== undefined)(
    "a hostile name in the bundle stays text in the browser: no element is injected",
    () => {
      const file = path.join(work, "hostile.html");
      expect(ferry(["report", hostileBundle, "-o", file]).code).toBe(0);
      const report = reportJson(hostileBundle);
      expect(report.images[0]?.source).toContain(HOSTILE);
      const dom = renderedDom(file);
      expect(dom).not.toMatch(/<img/i);
      expect(dom).toContain("&lt;img src=x onerror=alert(1)&gt;");
      const { text } = printedText(file);
      expect(text).toContain(HOSTILE);
      for (const image of report.images) expect(text).toContain(image.digest);
    },
    180_000,
  );
});

describe("ferry report on a delta, and --since an older bundle", () => {
  const layoutDir = path.join(work, "layout");
  const base = randomLayer(64 * 1024);

  function writeLayout(images: Record<string, Buffer[]>) {
    run("rm", ["-rf", layoutDir]);
    const layout = createLayout(layoutDir);
    for (const [ref, layers] of Object.entries(images)) layout.tag(ref, layout.image({ layers }));
    layout.finish();
  }

  it("says what is new, updated and unchanged, and what was added, removed and changed", () => {
    writeLayout({
      "test.example/stable:1": [base],
      "test.example/app:1": [base, randomLayer(16 * 1024)],
      "test.example/gone:1": [randomLayer(8 * 1024)],
    });
    const old = path.join(work, "old.zip");
    expect(ferry(["save", `oci:${layoutDir}`, "-o", old, "-q"]).code).toBe(0);
    writeLayout({
      "test.example/stable:1": [base],
      "test.example/app:1": [base, randomLayer(16 * 1024)],
      "test.example/fresh:1": [randomLayer(8 * 1024)],
    });
    const delta = path.join(work, "delta.zip");
    expect(ferry(["save", `oci:${layoutDir}`, "-o", delta, "--since", old, "-q"]).code).toBe(0);
    const before = reportJson(old);
    // From the delta alone: only the layers tell (manifests and configs are always carried).
    const alone = reportJson(delta);
    expect(Object.fromEntries(alone.images.map((i) => [i.ref, i.delta]))).toEqual({
      "test.example/stable:1": "same-layers",
      "test.example/app:1": "updated",
      "test.example/fresh:1": "new",
    });
    // With its base bundle: by name and digest.
    const report = reportJson(delta, "--since", old);
    const status = Object.fromEntries(report.images.map((i) => [i.ref, i.delta]));
    expect(status).toEqual({
      "test.example/stable:1": "unchanged",
      "test.example/app:1": "updated",
      "test.example/fresh:1": "new",
    });
    expect(report.base).toMatchObject({ kind: "bundle", id: before.id });
    const digestOf = (r: TransferReport, ref: string) =>
      r.images.find((i) => i.ref === ref)?.digest ?? null;
    expect(report.since?.changes).toEqual([
      {
        ref: "test.example/app:1",
        change: "changed",
        oldDigest: digestOf(before, "test.example/app:1"),
        newDigest: digestOf(report, "test.example/app:1"),
      },
      {
        ref: "test.example/fresh:1",
        change: "added",
        oldDigest: null,
        newDigest: digestOf(report, "test.example/fresh:1"),
      },
      {
        ref: "test.example/gone:1",
        change: "removed",
        oldDigest: digestOf(before, "test.example/gone:1"),
        newDigest: null,
      },
      {
        ref: "test.example/stable:1",
        change: "unchanged",
        oldDigest: digestOf(before, "test.example/stable:1"),
        newDigest: digestOf(report, "test.example/stable:1"),
      },
    ]);
    const html = ferry(["report", delta, "--since", old]).stdout;
    expect(html).toContain("Changes since");
    expect(html).toContain(digestOf(before, "test.example/gone:1"));
  });
});

describe("ferry report with cosign signatures and an SBOM (real registry)", () => {
  const env = homeEnv(work);
  it("shows the signature verified with the key, refused with another, and the SBOM", async () => {
    const registry = await startRegistry();
    try {
      const key = makeSigningKey("ecdsa-p256");
      const stranger = makeSigningKey("ed25519");
      writeFileSync(path.join(work, "cosign.pub"), key.publicPem);
      writeFileSync(path.join(work, "stranger.pub"), stranger.publicPem);
      const image = makeImage();
      await pushImage(registry.url, "team/app", "1", image);
      const signature = makeCosignSignature(`${registry.host}/team/app`, image.digest, [key]);
      await pushImage(registry.url, "team/app", `${digestTag(image.digest)}.sig`, signature);
      const sbom = makeReferrer(
        { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length },
        SPDX,
        Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", name: "app" })),
      );
      await pushImage(registry.url, "team/app", sbom.digest, sbom);
      await pushImage(
        registry.url,
        "team/app",
        digestTag(image.digest),
        makeReferrersIndex([sbom]),
      );
      const bundle = path.join(work, "signed-app.zip");
      const saved = await ferryAsync(
        [
          "save",
          `${registry.host}/team/app:1`,
          "-o",
          bundle,
          "--insecure-registry",
          registry.host,
          "-q",
        ],
        { env },
      );
      expect(saved.code, saved.stderr).toBe(0);

      const good = reportJson(bundle, "--cosign-key", path.join(work, "cosign.pub"));
      expect(good.images[0]).toMatchObject({
        digest: image.digest,
        signatures: 1,
        sbom: true,
        cosign: { signed: true, keys: [path.join(work, "cosign.pub")] },
      });
      const md = ferry([
        "report",
        bundle,
        "--format",
        "md",
        "--cosign-key",
        path.join(work, "cosign.pub"),
      ]);
      expect(md.stdout).toContain(
        `1 signature(s), verified with ${path.join(work, "cosign.pub")}; SBOM`,
      );
      const wrong = reportJson(bundle, "--cosign-key", path.join(work, "stranger.pub"));
      expect(wrong.images[0]?.cosign?.signed).toBe(false);
      const html = ferry(["report", bundle, "--cosign-key", path.join(work, "stranger.pub")]);
      expect(html.code, html.stderr).toBe(0);
      expect(html.stdout).toContain('<span class="bad">1 signature(s), NOT verified');
      const unchecked = reportJson(bundle);
      expect(unchecked.images[0]?.cosign).toBeNull();
      expect(ferry(["report", bundle, "--format", "md"]).stdout).toContain(
        "not checked (no --cosign-key)",
      );
    } finally {
      await registry.stop();
    }
  }, 120_000);
});
