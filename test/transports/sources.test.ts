/**
 * The source conformance suite (./source-conformance.ts) run on every source, each on a real
 * medium built from the fixture images and opened the way users reach it: through the
 * transport table (`openSource(parseSource(ARG))`), or, for a bundle, as the ops open one
 * (ops/transfer.ts: `BundleReader.open` with its checks, then `BundleSource`).
 */

import { execFile } from "node:child_process";
import { cpSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { copyImages } from "../../src/engine/copy.js";
import { planImage } from "../../src/engine/plan.js";
import { BundleReader } from "../../src/transports/bundle/reader.js";
import { BundleSource } from "../../src/transports/bundle/source.js";
import {
  destinationRole,
  openSource,
  parseDestination,
  parseSource,
} from "../../src/transports/table.js";
import type { Descriptor } from "../../src/types/descriptor.js";
import { partName } from "../../src/types/parts.js";
import { tempDir } from "../helpers/cli.js";
import { openFilesUnder } from "../helpers/open-files.js";
import { type RunningRegistry, skopeoCopy, startRegistry } from "../helpers/registry.js";
import { saveLayout } from "../helpers/stress-bundles.js";
import {
  makeSourceTree,
  setImageProperties,
  wimCapture,
  windowsVersion,
} from "../helpers/wimtools.js";
import { flipByte, zipEntries } from "../helpers/zip-tamper.js";
import { testSession } from "./registry/fixtures.js";
import { closingAlso, describeSource, type SourceMedium } from "./source-conformance.js";

const run = promisify(execFile);

/** The bytes of a tar member, read by Python's tarfile (names with or without `./`). */
async function tarMember(archive: string, name: string): Promise<Buffer> {
  const script = [
    "import sys, tarfile",
    "with tarfile.open(sys.argv[1]) as t:",
    "    m = next(m for m in t.getmembers() if m.name.removeprefix('./') == sys.argv[2])",
    "    sys.stdout.buffer.write(t.extractfile(m).read())",
  ].join("\n");
  const { stdout } = await run("python3", ["-c", script, archive, name], {
    encoding: "buffer",
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Flip a byte in the middle of the tar member whose bytes are this blob (found by Python). */
async function damageTarMember(archive: string, blob: Descriptor): Promise<void> {
  const script = [
    "import sys, hashlib, tarfile",
    "with tarfile.open(sys.argv[1]) as t:",
    "    for m in t.getmembers():",
    "        if m.isfile() and 'sha256:' + hashlib.sha256(t.extractfile(m).read()).hexdigest() == sys.argv[2]:",
    "            print(m.offset_data + m.size // 2)",
    "            break",
  ].join("\n");
  const { stdout } = await run("python3", ["-c", script, archive, blob.digest]);
  const offset = Number(stdout.trim());
  if (!stdout.trim() || !Number.isSafeInteger(offset))
    throw new Error(`no member of ${archive} holds ${blob.digest}`);
  flipByte(archive, offset);
}

/** Cut a file to half its size. */
function halve(file: string): void {
  truncateSync(file, Math.floor(statSync(file).size / 2));
}

/**
 * A medium that is one tar archive, opened as `PREFIX:ARCHIVE`: a blob damaged in its member,
 * the structure by cutting the archive in half.
 */
function tarMedium(
  dir: string,
  prefix: string,
  archive: string,
  images: string[],
  heldManifest: SourceMedium["heldManifest"],
): SourceMedium {
  return {
    images,
    open: () => openSource(parseSource(`${prefix}:${archive}`)),
    heldManifest,
    damageBlob: (blob) => damageTarMember(archive, blob),
    async damageStructure() {
      halve(archive);
      return "EBADIMAGE";
    },
    files: dir,
  };
}

/** The bytes of a layout blob in a tar archive. */
const tarBlob = (archive: string) => (digest: string) =>
  tarMember(archive, `blobs/sha256/${digest.slice(7)}`);

const blobFile = (layout: string, digest: string) =>
  path.join(layout, "blobs", "sha256", digest.slice("sha256:".length));

describe("openFilesUnder (how the suite sees a file left open)", () => {
  it("lists a file while a handle holds it, and not after the handle is closed", async () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, "held");
      writeFileSync(file, "x");
      const handle = await open(file, "r");
      expect(openFilesUnder(tmp.dir)).toEqual([file]);
      await handle.close();
      expect(openFilesUnder(tmp.dir)).toEqual([]);
    } finally {
      tmp.cleanup();
    }
  });
});

describeSource("oci: (an OCI image layout folder)", {
  manifests: "held",
  positional: true,
  async make(dir, fixture) {
    const layout = path.join(dir, "layout");
    cpSync(fixture.dir, layout, { recursive: true });
    return {
      images: [fixture.single, fixture.multi],
      open: () => openSource(parseSource(`oci:${layout}`)),
      heldManifest: async (digest) => readFileSync(blobFile(layout, digest)),
      damageBlob: async (blob) => flipByte(blobFile(layout, blob.digest), blob.size >> 1),
      async damageStructure() {
        halve(path.join(layout, "index.json"));
        return "EBADIMAGE";
      },
      files: dir,
    };
  },
});

describeSource("oci-archive: (a tar of an OCI image layout)", {
  manifests: "held",
  positional: true,
  async make(dir, fixture) {
    const archive = path.join(dir, "layout.tar");
    await run("tar", ["-C", fixture.dir, "-cf", archive, "oci-layout", "index.json", "blobs"]);
    return tarMedium(
      dir,
      "oci-archive",
      archive,
      [fixture.single, fixture.multi],
      tarBlob(archive),
    );
  },
});

describeSource("docker-archive: (docker save's classic layout, written by skopeo)", {
  manifests: "built",
  positional: true,
  async make(dir, fixture) {
    const archive = path.join(dir, "images.tar");
    // skopeo converts the manifest (digests change): the archive holds a docker save layout.
    await run("skopeo", [
      "copy",
      "-q",
      `oci:${fixture.dir}:${fixture.single}`,
      `docker-archive:${archive}:${fixture.single}`,
    ]);
    return tarMedium(dir, "docker-archive", archive, [fixture.single], () =>
      Promise.reject(new Error("built")),
    );
  },
});

describeSource("docker-archive: (the Docker 25+ layout, written by ferry export)", {
  manifests: "held",
  positional: true,
  async make(dir, fixture) {
    const archive = path.join(dir, "images.tar");
    const role = destinationRole(parseDestination(`docker-archive:${archive}`));
    const layout = await openSource(parseSource(`oci:${fixture.dir}:${fixture.single}`));
    try {
      const [image] = await layout.images();
      const plan = await planImage(layout, image as NonNullable<typeof image>, {
        platforms: "all",
      });
      const sink = await role.copy?.openSink(parseDestination(`docker-archive:${archive}`), [plan]);
      if (!sink) throw new Error("docker-archive takes no copy");
      await copyImages(sink, [plan]);
    } finally {
      await layout.close();
    }
    return tarMedium(dir, "docker-archive", archive, [fixture.single], tarBlob(archive));
  },
});

/** A bundle opened as the ops open one (ops/transfer.ts `withBundle`). */
async function openBundle(file: string): Promise<BundleSource> {
  return new BundleSource(await BundleReader.open(file, { trust: [] }));
}

describeSource("bundle (one zip file, written by ferry save)", {
  manifests: "held",
  positional: true,
  async make(dir, fixture) {
    const bundle = path.join(dir, "images.zip");
    await saveLayout(fixture.dir, bundle);
    return {
      images: [fixture.single, fixture.multi],
      open: () => openBundle(bundle),
      async heldManifest(digest) {
        const { stdout } = await run("unzip", ["-p", bundle, `blobs/sha256/${digest.slice(7)}`], {
          encoding: "buffer",
        });
        return stdout;
      },
      async damageBlob(blob) {
        const entry = (await zipEntries(bundle)).get(`blobs/sha256/${blob.digest.slice(7)}`);
        if (!entry) throw new Error(`${bundle} has no entry for ${blob.digest}`);
        flipByte(bundle, entry.dataStart + (entry.size >> 1));
      },
      async damageStructure() {
        halve(bundle);
        return "EBADBUNDLE";
      },
      files: dir,
    };
  },
});

const PART_SIZE = 64 * 1024;

describeSource("bundle (split volumes, written by ferry save --split)", {
  manifests: "held",
  positional: true,
  async make(dir, fixture) {
    const bundle = path.join(dir, "images.zip");
    const report = await saveLayout(fixture.dir, bundle, { partSize: PART_SIZE });
    const parts = report.parts?.parts.length ?? 0;
    expect(parts).toBeGreaterThan(2);
    /** The volumes joined (by cat), for unzip and to find where an entry's bytes are. */
    const joined = async () => {
      const file = path.join(dir, "joined.zip");
      const names = Array.from({ length: parts }, (_, i) => `"${partName(bundle, i)}"`);
      await run("sh", ["-c", `cat ${names.join(" ")} > "${file}"`]);
      return file;
    };
    return {
      images: [fixture.single, fixture.multi],
      open: () => openBundle(`${bundle}.parts`),
      async heldManifest(digest) {
        const { stdout } = await run(
          "unzip",
          ["-p", await joined(), `blobs/sha256/${digest.slice(7)}`],
          { encoding: "buffer" },
        );
        return stdout;
      },
      async damageBlob(blob) {
        const entries = await zipEntries(await joined());
        const entry = entries.get(`blobs/sha256/${blob.digest.slice(7)}`);
        if (!entry) throw new Error(`${bundle} has no entry for ${blob.digest}`);
        const at = entry.dataStart + (entry.size >> 1);
        flipByte(partName(bundle, Math.floor(at / PART_SIZE)), at % PART_SIZE);
      },
      async damageStructure() {
        halve(partName(bundle, parts - 1));
        return "EBADBUNDLE";
      },
      files: dir,
    };
  },
});

describeSource("wim (a Windows base OS image file)", {
  manifests: "built",
  positional: false,
  async make(dir) {
    const tree = await makeSourceTree(path.join(dir, "tree"), { fileCount: 3, fileBytes: 40_000 });
    const wim = await wimCapture(tree, path.join(dir, "NanoServer.wim"), "NanoServer");
    await setImageProperties(wim, 1, windowsVersion("10.0.14300.1010"));
    return {
      images: ["os.ferry.invalid/nanoserver:10.0.14300.1010"],
      open: () => openSource(parseSource(wim)),
      heldManifest: () => Promise.reject(new Error("built")),
      damageBlob: async (blob) => flipByte(wim, blob.size >> 1),
      async damageStructure() {
        flipByte(wim, 0);
        return "EBADWIM";
      },
      files: dir,
    };
  },
});

/** One registry per medium: a registry stores blobs once for all repositories. */
const registries: RunningRegistry[] = [];

describeSource("registry (docker://, the distribution registry)", {
  manifests: "held",
  positional: true,
  async tearDown() {
    for (const registry of registries.splice(0)) await registry.stop();
  },
  async make(dir, fixture) {
    const net = await startRegistry();
    registries.push(net);
    const repository = "conformance/app";
    const ref = `${net.host}/${repository}:multi`;
    await skopeoCopy(`oci:${fixture.dir}:${fixture.multi}`, `docker://${ref}`, { all: true });
    const stored = (digest: string) =>
      path.join(
        net.dir,
        "data/docker/registry/v2/blobs/sha256",
        digest.slice(7, 9),
        digest.slice(7),
        "data",
      );
    return {
      images: [ref],
      async open() {
        const session = await testSession(path.join(dir, "cache"));
        const source = await openSource(parseSource(`docker://${ref}`), {
          registry: { session },
        });
        return closingAlso(source, () => session.close());
      },
      async heldManifest(digest) {
        const response = await fetch(`${net.url}/v2/${repository}/manifests/${digest}`, {
          headers: {
            Accept: [
              "application/vnd.oci.image.index.v1+json",
              "application/vnd.oci.image.manifest.v1+json",
            ].join(", "),
          },
        });
        expect(response.status).toBe(200);
        return Buffer.from(await response.arrayBuffer());
      },
      damageBlob: async (blob) => flipByte(stored(blob.digest), blob.size >> 1),
      async damageStructure() {
        // One hex digit of the index changed: still JSON the registry serves, under its old digest.
        const head = await fetch(`${net.url}/v2/${repository}/manifests/multi`, {
          method: "HEAD",
          headers: { Accept: "application/vnd.oci.image.index.v1+json" },
        });
        const file = stored(head.headers.get("docker-content-digest") ?? "");
        const bytes = readFileSync(file);
        const at = bytes.indexOf("sha256:") + 7;
        bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30;
        writeFileSync(file, bytes);
        return "EINTEGRITY";
      },
      files: dir,
    };
  },
});
