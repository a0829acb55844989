import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TarEntry, TarReader } from "../../../src/transports/tar/tar-reader.js";

const LONG_DIR = `long-${"d".repeat(70)}`;
const LONG_FILE = `${"f".repeat(90)}.txt`;
const LONG_PATH = `${LONG_DIR}/${LONG_FILE}`;
const LONGEST_FILE = `${"x".repeat(150)}.json`;

let work: string;
let source: string;

/** Files and links of the source tree, as written to disk. */
const files = {
  "manifest.json": Buffer.from('[{"Config":"config.json","Layers":["layer/layer.tar"]}]'),
  "empty.txt": Buffer.alloc(0),
  "big.bin": pseudoRandomBytes(3 * 1024 * 1024 + 123),
  "dir/sub/deep.txt": Buffer.from("deep"),
  [LONG_PATH]: Buffer.from("long path content"),
  [LONGEST_FILE]: Buffer.from('{"long":true}'),
};

function pseudoRandomBytes(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let seed = 12345;
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = seed >>> 16;
  }
  return bytes;
}

function buildSourceTree(root: string): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, ".."), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  linkSync(join(root, "big.bin"), join(root, "hard.bin"));
  mkdirSync(join(root, "links"));
  const symlinks: Record<string, string> = {
    "links/to-manifest": "../manifest.json",
    "links/chain1": "chain2",
    "links/chain2": "./chain3",
    "links/chain3": "../dir/sub/deep.txt",
    "links/dirlink": "../dir",
    "links/long-target": `../${LONG_PATH}`,
    "links/escape": "../../outside.txt",
    "links/absolute": "/etc/hostname",
    "links/loop1": "loop2",
    "links/loop2": "loop1",
  };
  for (const [name, target] of Object.entries(symlinks)) symlinkSync(target, join(root, name));
}

function tar(...args: string[]): void {
  execFileSync("tar", args, { stdio: "pipe" });
}

async function streamBytes(stream: Readable): Promise<{ bytes: Buffer; largestChunk: number }> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return {
    bytes: Buffer.concat(chunks),
    largestChunk: Math.max(0, ...chunks.map((chunk) => chunk.length)),
  };
}

async function withReader<T>(path: string, use: (reader: TarReader) => Promise<T>): Promise<T> {
  const reader = await TarReader.open(path);
  try {
    return await use(reader);
  } finally {
    await reader.close();
  }
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a failure");
}

function endOfLastEntry(entries: TarEntry[]): number {
  const last = entries[entries.length - 1] as TarEntry;
  return last.dataOffset + Math.ceil(last.size / 512) * 512;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ferry-tar-"));
  source = join(work, "src");
  mkdirSync(source);
  buildSourceTree(source);
  tar("--format=gnu", "-cf", join(work, "gnu.tar"), "-C", source, ".");
  tar(
    "--format=pax",
    "--pax-option=comment:=global",
    "-cf",
    join(work, "pax.tar"),
    "-C",
    source,
    ".",
  );
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe.each(["gnu", "pax"])("TarReader over a %s tar", (format) => {
  let reader: TarReader;
  const archive = () => join(work, `${format}.tar`);

  beforeAll(async () => {
    reader = await TarReader.open(archive());
  });

  afterAll(async () => {
    await reader.close();
  });

  it("lists entries with normalized names", () => {
    const names = reader.entries().map((entry) => entry.name);
    expect(names).toContain(".");
    expect(names).toContain("dir/sub/deep.txt");
    expect(names).toContain(LONG_PATH);
    expect(names).toContain(LONGEST_FILE);
    expect(names.some((name) => name.startsWith("./") || name.endsWith("/"))).toBe(false);
    const types = new Map(reader.entries().map((entry) => [entry.name, entry.type]));
    expect(types.get("dir/sub")).toBe("directory");
    expect(types.get("links/chain1")).toBe("symlink");
    expect(types.get("empty.txt")).toBe("file");
  });

  it("reads every file's bytes, by name or with a ./ prefix", async () => {
    for (const [name, content] of Object.entries(files)) {
      expect((await reader.readFile(`./${name}`)).equals(content)).toBe(true);
      expect(reader.find(name)?.size).toBe(content.length);
    }
  });

  it("keeps mode and mtime", () => {
    const entry = reader.find("manifest.json") as TarEntry;
    expect(entry.mode).toBe(0o644);
    // The source file's own mtime (tar keeps whole seconds), not the clock.
    const written = Math.floor(statSync(join(source, "manifest.json")).mtimeMs / 1000);
    expect(entry.mtime).toBe(written);
  });

  it("streams a multi-MiB file in chunks of at most 1 MiB", async () => {
    const { bytes, largestChunk } = await streamBytes(await reader.openStream("big.bin"));
    expect(bytes.equals(files["big.bin"])).toBe(true);
    expect(largestChunk).toBeLessThanOrEqual(1024 * 1024);
  });

  it("streams an empty file", async () => {
    const { bytes } = await streamBytes(await reader.openStream("empty.txt"));
    expect(bytes.length).toBe(0);
  });

  it("follows hardlinks", async () => {
    const kinds = ["big.bin", "hard.bin"].map(
      (name) => reader.entries().find((entry) => entry.name === name)?.type,
    );
    expect(kinds.sort()).toEqual(["file", "hardlink"]);
    const { bytes } = await streamBytes(await reader.openStream("hard.bin"));
    expect(bytes.equals(files["big.bin"])).toBe(true);
  });

  it("follows symlinks, chains, directory links and long link targets", async () => {
    expect((await reader.readFile("links/to-manifest")).equals(files["manifest.json"])).toBe(true);
    expect((await reader.readFile("links/chain1")).toString()).toBe("deep");
    expect((await reader.readFile("links/dirlink/sub/deep.txt")).toString()).toBe("deep");
    expect((await reader.readFile("links/long-target")).toString()).toBe("long path content");
    const longLink = reader.entries().find((entry) => entry.name === "links/long-target");
    expect(longLink?.linkName).toBe(`../${LONG_PATH}`);
  });

  it("does not follow links that leave the archive or loop", () => {
    expect(reader.find("links/escape")).toBeUndefined();
    expect(reader.find("links/absolute")).toBeUndefined();
    expect(reader.find("links/loop1")).toBeUndefined();
  });

  it("does not return directories", () => {
    expect(reader.find("dir")).toBeUndefined();
    expect(reader.find(".")).toBeUndefined();
  });

  it("raises NotFoundError for a missing entry", async () => {
    const error = await failure(reader.readFile("nope.json"));
    expect(error.code).toBe("ENOTFOUND");
    expect(error.message).toContain("nope.json");
    expect((await failure(reader.openStream("nope.json"))).code).toBe("ENOTFOUND");
  });

  it("refuses to read an entry larger than maxBytes", async () => {
    const error = await failure(reader.readFile("big.bin", 1024));
    expect(error.code).toBe("EBADIMAGE");
    expect(error.message).toContain("big.bin");
  });

  it("indexes again after the trailing zero blocks are cut", async () => {
    const entries = reader.entries();
    const end = endOfLastEntry(entries);
    for (const [suffix, size] of [
      ["no-end", end],
      ["one-zero-block", end + 512],
    ] as const) {
      const copy = join(work, `${format}-${suffix}.tar`);
      copyFileSync(archive(), copy);
      truncateSync(copy, size);
      await withReader(copy, async (cut) => {
        expect(cut.entries()).toEqual(entries);
      });
    }
  });
});

describe("TarReader over a ustar tar", () => {
  it("joins the prefix field and the name", async () => {
    const path = join(work, "ustar.tar");
    tar("--format=ustar", "-cf", path, "-C", source, `./${LONG_PATH}`, "./manifest.json");
    await withReader(path, async (reader) => {
      expect((await reader.readFile(LONG_PATH)).toString()).toBe("long path content");
      const header = readFileSync(path).subarray(0, 512);
      expect(header.toString("latin1", 345, 350)).toBe("./lon");
    });
  });
});

describe("TarReader on unusual archives", () => {
  it("lets a later entry with the same name replace an earlier one", async () => {
    const dir = join(work, "dup");
    const path = join(work, "dup.tar");
    mkdirSync(dir);
    writeFileSync(join(dir, "index.json"), "first");
    tar("-cf", path, "-C", dir, "index.json");
    writeFileSync(join(dir, "index.json"), "second, longer");
    tar("-rf", path, "-C", dir, "index.json");
    await withReader(path, async (reader) => {
      expect(reader.entries()).toHaveLength(2);
      expect((await reader.readFile("index.json")).toString()).toBe("second, longer");
    });
  });

  it("lists but never matches member names that are absolute or climb out", async () => {
    const path = join(work, "escape.tar");
    tar("-cPf", path, "-C", join(source, "dir"), "../manifest.json", join(source, "empty.txt"));
    await withReader(path, async (reader) => {
      const names = reader.entries().map((entry) => entry.name);
      expect(names).toEqual(["../manifest.json", join(source, "empty.txt")]);
      expect(reader.find("../manifest.json")).toBeUndefined();
      expect(reader.find("manifest.json")).toBeUndefined();
      expect(reader.find(join(source, "empty.txt"))).toBeUndefined();
      expect(reader.find(join(source, "empty.txt").slice(1))).toBeUndefined();
    });
  });

  it("rejects a corrupt header checksum, naming the archive and the offset", async () => {
    const good = await withReader(join(work, "gnu.tar"), async (reader) => reader.entries());
    const target = good.find((entry) => entry.name === "manifest.json") as TarEntry;
    const headerOffset = target.dataOffset - 512;
    const path = join(work, "corrupt.tar");
    const bytes = readFileSync(join(work, "gnu.tar"));
    bytes.writeUInt8(bytes.readUInt8(headerOffset + 5) ^ 0x01, headerOffset + 5);
    writeFileSync(path, bytes);
    const error = await failure(TarReader.open(path));
    expect(error.code).toBe("EBADIMAGE");
    expect(error.message).toContain(path);
    expect(error.message).toContain(`byte offset ${headerOffset}`);
  });

  it("rejects a truncated archive, naming the entry", async () => {
    const good = await withReader(join(work, "gnu.tar"), async (reader) => reader.entries());
    const big = good.find((entry) => entry.size > 1024 * 1024) as TarEntry;
    const path = join(work, "truncated.tar");
    copyFileSync(join(work, "gnu.tar"), path);
    truncateSync(path, big.dataOffset + 1000);
    const error = await failure(TarReader.open(path));
    expect(error.code).toBe("EBADIMAGE");
    expect(error.message).toContain("truncated");
    expect(error.message).toContain(`"${big.name}"`);
  });

  it("rejects a gzip-compressed tar with a hint", async () => {
    const path = join(work, "compressed.tar.gz");
    tar("-czf", path, "-C", source, "manifest.json");
    const error = (await failure(TarReader.open(path))) as Error & { code?: string; hint?: string };
    expect(error.code).toBe("EBADIMAGE");
    expect(error.hint).toContain("gzip");
  });

  it("raises NotFoundError for a missing archive", async () => {
    expect((await failure(TarReader.open(join(work, "absent.tar")))).code).toBe("ENOTFOUND");
  });

  it("indexes an empty file as an empty archive", async () => {
    const path = join(work, "empty.tar");
    writeFileSync(path, "");
    await withReader(path, async (reader) => expect(reader.entries()).toEqual([]));
  });

  it("refuses reads after close", async () => {
    const reader = await TarReader.open(join(work, "gnu.tar"));
    await reader.close();
    await reader.close();
    expect((await failure(reader.readFile("manifest.json"))).code).toBe("EINTERNAL");
  });
});

describe("TarReader over skopeo output", () => {
  let layout: ReturnType<typeof writeOciLayout>;

  beforeAll(() => {
    layout = writeOciLayout(join(work, "oci"));
  });

  it("reads a docker-archive, following its layer symlink", async () => {
    const path = join(work, "skopeo-docker.tar");
    skopeo("copy", `oci:${layout.dir}:v1`, `docker-archive:${path}:example.com/app:v1`);
    await withReader(path, async (reader) => {
      const [image] = JSON.parse((await reader.readFile("manifest.json")).toString());
      const config = await reader.readFile(image.Config);
      expect(sha256(config)).toBe(layout.configDigest);
      const { bytes } = await streamBytes(await reader.openStream(image.Layers[0]));
      expect(sha256(bytes)).toBe(layout.layerDigest);
    });
  });

  it("reads an oci-archive by blob path", async () => {
    const path = join(work, "skopeo-oci.tar");
    skopeo("copy", `oci:${layout.dir}:v1`, `oci-archive:${path}:v1`);
    await withReader(path, async (reader) => {
      const index = JSON.parse((await reader.readFile("index.json")).toString());
      const manifestDigest: string = index.manifests[0].digest;
      const manifestBytes = await reader.readFile(`blobs/${manifestDigest.replace(":", "/")}`);
      expect(`sha256:${sha256(manifestBytes)}`).toBe(manifestDigest);
      const manifest = JSON.parse(manifestBytes.toString());
      const config = await reader.readFile(`blobs/${manifest.config.digest.replace(":", "/")}`);
      expect(sha256(config)).toBe(layout.configDigest);
    });
  });
});

function skopeo(...args: string[]): void {
  execFileSync("skopeo", ["--insecure-policy", ...args], {
    stdio: "pipe",
    env: { ...process.env, TMPDIR: work },
  });
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A one-layer OCI image layout, written by hand, tagged "v1". */
function writeOciLayout(dir: string) {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const putBlob = (bytes: Buffer) => {
    const digest = sha256(bytes);
    writeFileSync(join(blobs, digest), bytes);
    return { digest, size: bytes.length };
  };
  const layerDir = join(dir, "..", "layer-src");
  mkdirSync(layerDir);
  writeFileSync(join(layerDir, "hello.txt"), "hello from the layer\n");
  const layerTar = join(dir, "..", "layer.tar");
  tar("--format=pax", "-cf", layerTar, "-C", layerDir, "hello.txt");
  const layer = putBlob(readFileSync(layerTar));
  const config = putBlob(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: {},
        rootfs: { type: "layers", diff_ids: [`sha256:${layer.digest}`] },
      }),
    ),
  );
  const manifest = putBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: `sha256:${config.digest}`,
          size: config.size,
        },
        layers: [
          {
            mediaType: "application/vnd.oci.image.layer.v1.tar",
            digest: `sha256:${layer.digest}`,
            size: layer.size,
          },
        ],
      }),
    ),
  );
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: `sha256:${manifest.digest}`,
          size: manifest.size,
          annotations: { "org.opencontainers.image.ref.name": "v1" },
        },
      ],
    }),
  );
  return { dir, configDigest: config.digest, layerDigest: layer.digest };
}
