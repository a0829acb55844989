import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyImages } from "../../../src/engine/copy.js";
import { planImage } from "../../../src/engine/plan.js";
import { DiscardSink } from "../../../src/transports/discard.js";
import {
  isLegacyFullName,
  osImageFactsFromManifestBytes,
  osImageRepository,
  parseOsImageRef,
} from "../../../src/transports/wim/artifact.js";
import { WimSource } from "../../../src/transports/wim/source.js";
import type { ImageManifest } from "../../../src/types/manifest.js";
import { FerryAnnotation, MediaType } from "../../../src/types/media-types.js";
import { redactUrl } from "../../../src/types/url.js";
import { errorOf } from "../../helpers/errors.js";
import { closeServer, listenOnLoopback } from "../../helpers/loopback.js";
import {
  makeSourceTree,
  makeTempDir,
  removeTempDir,
  setImageProperties,
  type WimtoolsCompression,
  wimAppend,
  wimCapture,
  wiminfo,
  wimSplit,
  windowsVersion,
} from "../../helpers/wimtools.js";

const VERSION = windowsVersion("10.0.14300.1010");

function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function manifestOf(source: WimSource): Promise<ImageManifest> {
  const [image] = await source.images();
  if (!image) throw new Error("no image");
  return JSON.parse((await source.fetchManifest(image.descriptor)).toString("utf8"));
}

/** Plan and copy the source's image through the engine into a sink that keeps nothing. */
async function copyThroughEngine(source: WimSource) {
  const [image] = await source.images();
  if (!image) throw new Error("no image");
  const plan = await planImage(source, image, { platforms: "all" });
  return copyImages(new DiscardSink(), [plan]);
}

describe("WimSource: a .wim as an OCI artifact", () => {
  let dir: string;
  let tree: string;
  let twoImages: string;

  beforeAll(async () => {
    dir = await makeTempDir("ferry-wimsrc-");
    tree = await makeSourceTree(join(dir, "tree"), { fileCount: 2, fileBytes: 30_000 });
    twoImages = await wimCapture(tree, join(dir, "NanoServer.wim"), "NanoServer", {
      compress: "LZX",
      check: true,
    });
    await setImageProperties(twoImages, 1, VERSION, { check: true });
    await wimAppend(tree, twoImages, "UtilityVM", { check: true });
    await setImageProperties(twoImages, 2, VERSION, { check: true });
  });
  afterAll(async () => removeTempDir(dir));

  describe("every compression, with and without an integrity table", () => {
    const compressions: WimtoolsCompression[] = ["none", "XPRESS", "LZX", "LZMS"];
    for (const compress of compressions) {
      for (const check of [false, true]) {
        it(`--compress=${compress}${check ? " --check" : ""}: named, hashed and copied`, async () => {
          const wim = join(dir, `c-${compress}-${check}.wim`);
          await wimCapture(tree, wim, "NanoServer", { compress, check });
          await setImageProperties(wim, 1, VERSION, { check });
          const source = await WimSource.open(wim);
          try {
            const bytes = await readFile(wim);
            expect(source.facts.wim).toEqual({
              digest: `sha256:${sha256Hex(bytes)}`,
              size: bytes.length,
            });
            expect(source.facts.compression).toBe(compress.toLowerCase());
            expect(source.facts.ref).toBe("os.ferry.invalid/nanoserver:10.0.14300.1010");
            const manifest = await manifestOf(source);
            expect(manifest.annotations?.[FerryAnnotation.WimCompression]).toBe(
              compress.toLowerCase(),
            );
            const config = JSON.parse(source.artifact.config.bytes.toString("utf8"));
            expect(config.integrityTable).toBe(check);
            const result = await copyThroughEngine(source);
            expect(result.committed).toBe(true);
            expect(result.bytesCopied).toBe(bytes.length + source.artifact.config.bytes.length);
          } finally {
            await source.close();
          }
        });
      }
    }
  });

  it("builds an ORAS-style artifact: one x-ms-wim layer, annotated, deterministic", async () => {
    const source = await WimSource.open(twoImages);
    const again = await WimSource.open(twoImages);
    const manifest = await manifestOf(source);
    expect(manifest.mediaType).toBe(MediaType.OciManifest);
    expect(manifest.artifactType).toBe(MediaType.WimArtifact);
    expect(manifest.config.mediaType).toBe(MediaType.WimConfig);
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]?.mediaType).toBe("application/x-ms-wim");
    expect(manifest.layers[0]?.annotations?.["org.opencontainers.image.title"]).toBe(
      "NanoServer.wim",
    );
    expect(manifest.annotations).toMatchObject({
      "vnd.ferry.kind": "os-image",
      "vnd.ferry.os.name": "NanoServer",
      "vnd.ferry.os.version": "10.0.14300.1010",
      "vnd.ferry.os.architecture": "amd64",
      "vnd.ferry.os.full-name": "CN=Microsoft_NanoServer_10.0.14300.1010",
      "vnd.ferry.wim.image-count": "2",
      "vnd.ferry.wim.images": JSON.stringify(["NanoServer", "UtilityVM"]),
    });
    expect(again.artifact.manifest.descriptor.digest).toBe(
      source.artifact.manifest.descriptor.digest,
    );
    const facts = osImageFactsFromManifestBytes(source.artifact.manifest.bytes);
    expect(facts).toMatchObject({
      name: "NanoServer",
      version: "10.0.14300.1010",
      imageCount: 2,
      imageNames: ["NanoServer", "UtilityVM"],
    });
    const [image] = await source.images();
    expect(image?.descriptor.platform).toEqual({
      os: "windows",
      architecture: "amd64",
      "os.version": "10.0.14300.1010",
    });
    await source.close();
    await again.close();
  });

  it("carries both images and reports what wiminfo reports", async () => {
    const source = await WimSource.open(twoImages);
    const printed = await wiminfo(twoImages);
    const config = JSON.parse(source.artifact.config.bytes.toString("utf8"));
    expect(config.images.map((i: { name: string }) => i.name)).toEqual(
      printed.images.map((i) => i.Name),
    );
    expect(config.images.map((i: { role: string }) => i.role)).toEqual([
      "container base",
      "Hyper-V utility VM",
    ]);
    expect(config.guid).toBe(printed.wim.GUID?.replace(/^0x/, ""));
    expect(source.facts.imageCount).toBe(Number(printed.wim["Image Count"]));
    await source.close();
  });

  it("refuses a WIM whose image 1 has no version, naming the fix", async () => {
    const plain = await wimCapture(tree, join(dir, "plain.wim"), "NanoServer");
    const error = await errorOf(WimSource.open(plain));
    expect(error.code).toBe("EBADWIM");
    expect(error.message).toContain("has no WINDOWS/VERSION");
    expect(error.hint).toContain("--image-property");
  });

  it("refuses a file that is not a WIM", async () => {
    const bogus = join(dir, "bogus.wim");
    await writeFile(bogus, Buffer.alloc(4096, 7));
    const error = await errorOf(WimSource.open(bogus));
    expect(error.code).toBe("EBADWIM");
    expect(error.message).toContain("not a WIM");
  });

  describe("split WIMs", () => {
    let splitDir: string;
    beforeAll(async () => {
      const big = await makeSourceTree(join(dir, "big"), { fileCount: 3, fileBytes: 40_000 });
      const wim = await wimCapture(big, join(dir, "big.wim"), "NanoServer");
      await setImageProperties(wim, 1, VERSION);
      splitDir = join(dir, "split");
      await mkdir(splitDir);
      await wimSplit(wim, join(splitDir, "NANO.swm"), 0.03);
    });

    it("refuses part 1 given alone, naming the missing parts", async () => {
      const alone = join(dir, "alone");
      await mkdir(alone);
      await copyFile(join(splitDir, "NANO.swm"), join(alone, "NANO.swm"));
      const error = await errorOf(WimSource.open(join(alone, "NANO.swm")));
      expect(error.code).toBe("EBADWIM");
      expect(error.message).toMatch(/split WIM; missing or unusable: NANO2\.swm/);
    });

    it("refuses a whole split set too, saying how to join it", async () => {
      const parts = (await readdir(splitDir)).length;
      expect(parts).toBeGreaterThan(1);
      const error = await errorOf(WimSource.open(join(splitDir, "NANO.swm")));
      expect(error.code).toBe("EBADWIM");
      expect(error.message).toContain(`${parts}-part split WIM`);
      expect(error.hint).toContain("wimlib-imagex join");
    });
  });

  describe("--sha256", () => {
    it("accepts the right value (hex or sha256:hex, any case)", async () => {
      const hex = sha256Hex(await readFile(twoImages));
      for (const value of [hex, `sha256:${hex.toUpperCase()}`]) {
        const source = await WimSource.open(twoImages, { sha256: value });
        expect(source.facts.wim.digest).toBe(`sha256:${hex}`);
        await source.close();
      }
    });

    it("refuses a wrong value with EINTEGRITY, and a malformed one with EUSAGE", async () => {
      const wrong = await errorOf(WimSource.open(twoImages, { sha256: "0".repeat(64) }));
      expect(wrong.code).toBe("EINTEGRITY");
      expect(wrong.message).toContain(`expected sha256:${"0".repeat(64)}`);
      const malformed = await errorOf(WimSource.open(twoImages, { sha256: "abc" }));
      expect(malformed.code).toBe("EUSAGE");
    });
  });

  it("a WIM changed after it was opened fails the copy (the engine re-hashes it)", async () => {
    const copy = join(dir, "changing.wim");
    await copyFile(twoImages, copy);
    const source = await WimSource.open(copy);
    const bytes = await readFile(copy);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    await writeFile(copy, bytes);
    const error = await errorOf(copyThroughEngine(source));
    expect(error.code).toBe("EINTEGRITY");
    expect(error.message).toContain(source.facts.wim.digest);
    await source.close();
  });

  describe("http(s) URLs", () => {
    let server: Server;
    let base: string;
    let wimBytes: Buffer;

    beforeAll(async () => {
      wimBytes = await readFile(twoImages);
      server = createServer((request, response) => {
        if (request.url?.startsWith("/images/NanoServer.wim")) {
          response.writeHead(200, { "content-length": String(wimBytes.length) });
          response.end(wimBytes);
        } else if (request.url === "/page.wim") {
          response.writeHead(200, { "content-type": "text/html" });
          response.end(`<html>${"x".repeat(500)}</html>`);
        } else {
          response.writeHead(404);
          response.end();
        }
      });
      base = `http://127.0.0.1:${await listenOnLoopback(server)}`;
    });
    afterAll(() => closeServer(server));

    it("downloads, hashes on the way and names the origin without the query", async () => {
      const url = `${base}/images/NanoServer.wim?sig=SECRET`;
      const source = await WimSource.open(url, {
        sha256: sha256Hex(wimBytes),
        tempDir: dir,
      });
      expect(source.facts.wim.digest).toBe(`sha256:${sha256Hex(wimBytes)}`);
      expect(source.origin).toBe(`wim:${base}/images/NanoServer.wim`);
      expect(source.origin).not.toContain("SECRET");
      const result = await copyThroughEngine(source);
      expect(result.committed).toBe(true);
      await source.close();
      expect((await readdir(dir)).filter((n) => n.startsWith(".ferry-wim-"))).toEqual([]);
    });

    it("refuses a wrong --sha256 after the download, leaving no temp file", async () => {
      const error = await errorOf(
        WimSource.open(`${base}/images/NanoServer.wim`, { sha256: "1".repeat(64), tempDir: dir }),
      );
      expect(error.code).toBe("EINTEGRITY");
      expect((await readdir(dir)).filter((n) => n.startsWith(".ferry-wim-"))).toEqual([]);
    });

    it("names HTTP 404 and a web page served instead of a WIM", async () => {
      const missing = await errorOf(WimSource.open(`${base}/nope.wim`, { tempDir: dir }));
      expect(missing.code).toBe("ENOTFOUND");
      expect(missing.message).toContain("HTTP 404");
      const page = await errorOf(WimSource.open(`${base}/page.wim`, { tempDir: dir }));
      expect(page.code).toBe("EBADWIM");
      expect(page.message).toContain("not a WIM");
    });
  });
});

describe("OS image naming", () => {
  it("lower-cases names and drops white space", () => {
    expect(osImageRepository("NanoServer")).toBe("nanoserver");
    expect(osImageRepository("Windows Server Core")).toBe("windowsservercore");
    expect(osImageRepository("Nano (x64)")).toBe("nano-x64");
    expect(osImageRepository("???")).toBe("windows");
  });

  it("parses OS refs and legacy full names", () => {
    expect(parseOsImageRef("os.ferry.invalid/nanoserver:latest")).toEqual({
      repository: "nanoserver",
      tag: "latest",
    });
    expect(parseOsImageRef("docker.io/library/nanoserver:latest")).toBeUndefined();
    expect(isLegacyFullName("CN=Microsoft_NanoServer_10.0.14300.1010")).toBe(true);
    expect(isLegacyFullName("cn=microsoft_WindowsServerCore_10.0.14300.1000")).toBe(true);
    expect(isLegacyFullName("nanoserver:10.0.14300.1010")).toBe(false);
  });

  it("redacts credentials and queries from URLs", () => {
    expect(redactUrl("https://user:pw@host.example/a/b.wim?sig=x#y")).toBe(
      "https://host.example/a/b.wim",
    );
  });
});
