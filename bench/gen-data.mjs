#!/usr/bin/env node
// Generates the benchmark data: an OCI image layout holding 3 images that share one base layer,
// about SIZE bytes of layer data in all (default 1 GiB).
//
// Every layer is a real tar+gzip blob: one ustar file of pseudo-random bytes, wrapped in gzip
// *stored* deflate blocks (no compression work, ~0.01% overhead). The bytes are incompressible,
// like the already-compressed layers of real images, and `gzip -t`, skopeo, umoci and podman
// can all read them. The bytes come from an AES-256-CTR keystream keyed by the seed, so the
// same seed and size always give the same digests. Layers are generated in parallel worker
// threads (sha256 of the blob + sha256 of the tar for the config's diff_ids + CRC-32).
//
// Two shapes: `few-large` (the default; SIZE bytes) and `many-small` (--shape many-small: 60
// layers of 1-4 MiB, about 160 MiB whatever SIZE says: 15 shared by the 3 images, 15 of each
// image's own), where a registry's per-request latency matters more than its bandwidth.
//
// usage: node bench/gen-data.mjs DIR [--size BYTES|1GiB|5GiB] [--shape few-large|many-small]
//                                [--seed S] [--force]
// Prints a JSON summary (images, blobs, bytes). Re-running with the same arguments reuses DIR.
import { createCipheriv, createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { crc32 } from "node:zlib";

const MiB = 1024 * 1024;
const STORED_MAX = 65535; // largest stored deflate block
const CHUNK = 16 * STORED_MAX; // ~1 MiB of tar bytes per write
const MTIME = Date.UTC(2025, 0, 1) / 1000;
const CREATED = "2025-01-01T00:00:00Z";
const REPOSITORY = "localhost/ferry-bench";
const MARKER = ".ferry-bench.json";

export const IMAGE_REFS = ["app1", "app2", "app3"].map((name) => `${REPOSITORY}/${name}:1.0`);

/** Parse `1073741824`, `1GiB`, `512MiB`, `5G`. */
export function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(k|m|g|t)?(i?b)?$/i.exec(String(text).trim());
  if (!match) throw new Error(`not a size: ${text}`);
  const unit = { k: 1, m: 2, g: 3, t: 4 }[(match[2] ?? "").toLowerCase()] ?? 0;
  return Math.round(Number(match[1]) * 1024 ** unit);
}

// ---------------------------------------------------------------- worker: one layer blob

/** A 512-byte ustar header for a regular file. */
function tarHeader(name, size) {
  const header = Buffer.alloc(512);
  const field = (text, offset, length) => header.write(text, offset, length, "ascii");
  const octal = (value, offset, length) =>
    field(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length);
  field(name, 0, 100);
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(MTIME, 136, 12);
  field("        ", 148, 8); // checksum placeholder: spaces
  field("0", 156, 1);
  field("ustar\0", 257, 6);
  field("00", 263, 2);
  field("root", 265, 32);
  field("root", 297, 32);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return header;
}

/** Build one layer blob in `dir`; returns its digest, size and diff_id. */
function writeLayer({ dir, name, payloadSize, seed }) {
  const key = createHash("sha256").update(`ferry-bench:${seed}:${name}`).digest();
  const keystream = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  const blobHash = createHash("sha256");
  const tarHash = createHash("sha256");
  let crc = 0;
  let tarBytes = 0;
  const temp = path.join(dir, `.gen-${name}-${process.pid}`);
  const fd = openSync(temp, "w");
  let written = 0;
  const out = (buffer) => {
    blobHash.update(buffer);
    let at = 0;
    while (at < buffer.length) at += writeSync(fd, buffer, at, buffer.length - at);
    written += buffer.length;
  };
  // Frame tar bytes as stored deflate blocks: [BFINAL=0,BTYPE=00] LEN ~LEN data.
  const frame = Buffer.allocUnsafe(CHUNK + 5 * Math.ceil(CHUNK / STORED_MAX));
  const deflate = (data) => {
    crc = crc32(data, crc);
    tarHash.update(data);
    tarBytes += data.length;
    let at = 0;
    let fill = 0;
    while (at < data.length) {
      const length = Math.min(STORED_MAX, data.length - at);
      frame[fill] = 0;
      frame.writeUInt16LE(length, fill + 1);
      frame.writeUInt16LE(~length & 0xffff, fill + 3);
      data.copy(frame, fill + 5, at, at + length);
      fill += 5 + length;
      at += length;
    }
    out(frame.subarray(0, fill));
  };
  try {
    // gzip header: magic, CM=deflate, no flags, mtime 0, XFL 0, OS 3 (Unix)
    out(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
    deflate(tarHeader(`${name}.bin`, payloadSize));
    for (let left = payloadSize; left > 0; left -= CHUNK) {
      const n = Math.min(CHUNK, left);
      deflate(keystream.update(n === CHUNK ? zeros : zeros.subarray(0, n)));
    }
    const padding = (512 - (payloadSize % 512)) % 512;
    deflate(Buffer.alloc(padding + 1024)); // pad the file, then the two zero end blocks
    out(Buffer.from([1, 0, 0, 0xff, 0xff])); // final empty stored block
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(tarBytes % 2 ** 32, 4);
    out(trailer);
  } finally {
    closeSync(fd);
  }
  const hex = blobHash.digest("hex");
  renameSync(temp, path.join(dir, hex));
  return { digest: `sha256:${hex}`, size: written, diffId: `sha256:${tarHash.digest("hex")}` };
}

if (!isMainThread && workerData?.ferryBenchLayer) {
  parentPort.postMessage(writeLayer(workerData.ferryBenchLayer));
}

// ---------------------------------------------------------------- main: the layout

function runWorker(job) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { ferryBenchLayer: job },
    });
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`layer worker for ${job.name} exited with ${code}`));
    });
  });
}

/** Run jobs on up to `limit` workers at once, keeping results in order. */
async function runAll(jobs, limit) {
  const results = new Array(jobs.length);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await runWorker(jobs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, lane));
  return results;
}

const sha256 = (bytes) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export const SHAPES = ["few-large", "many-small"];

/**
 * The layer plan. `few-large`, for `total` bytes: per image two layers of about 12% and 8% of
 * the total, and a shared base layer of the rest (about 40%); payload sizes are whole MiB where
 * the total allows. `many-small`: 15 shared layers and 15 per image, each 1 to 4 MiB (in steps
 * of 256 KiB, picked by the seed), 60 layers in all.
 */
function layerPlan(total, shape, seed) {
  if (shape === "many-small") {
    const pick = (name) => {
      const hash = createHash("sha256").update(`ferry-bench-size:${seed}:${name}`).digest();
      return MiB + (hash.readUInt16BE(0) % 13) * (MiB / 4); // 1 MiB .. 4 MiB
    };
    const layers = (prefix) =>
      Array.from({ length: 15 }, (_, i) => {
        const name = `${prefix}-${String(i + 1).padStart(2, "0")}`;
        return { name, payloadSize: pick(name) };
      });
    return {
      shared: layers("base"),
      images: IMAGE_REFS.map((ref, i) => ({ ref, layers: layers(`app${i + 1}`) })),
    };
  }
  const unit = total >= 64 * MiB ? MiB : 4096;
  const part = (fraction) => Math.max(1, Math.floor((total * fraction) / unit)) * unit;
  const deps = part(0.12);
  const code = part(0.08);
  const base = Math.max(unit, total - 3 * (deps + code));
  return {
    shared: [{ name: "base", payloadSize: base }],
    images: IMAGE_REFS.map((ref, i) => ({
      ref,
      layers: [
        { name: `app${i + 1}-deps`, payloadSize: deps },
        { name: `app${i + 1}-code`, payloadSize: code },
      ],
    })),
  };
}

function putJson(blobDir, value, mediaType) {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = sha256(bytes);
  writeFileSync(path.join(blobDir, digest.slice(7)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/**
 * Generate (or reuse) the layout in `dir`. Returns the summary that is also stored in
 * `dir/.ferry-bench.json`: images (ref, manifest digest), blobs (digest, size) and bytes.
 */
export async function generate(
  dir,
  { size = 1024 * MiB, seed = "ferry", force = false, shape = "few-large" } = {},
) {
  if (!SHAPES.includes(shape)) throw new Error(`unknown shape ${shape} (${SHAPES.join(", ")})`);
  // The default shape keeps the parameters (and so the reuse marker) it always had.
  const params = shape === "few-large" ? { version: 2, size, seed } : { version: 2, shape, seed };
  const markerFile = path.join(dir, MARKER);
  if (!force && existsSync(markerFile)) {
    const previous = JSON.parse(readFileSync(markerFile, "utf8"));
    if (JSON.stringify(previous.params) === JSON.stringify(params)) {
      return { ...previous, reused: true };
    }
  }
  const started = process.hrtime.bigint();
  rmSync(dir, { recursive: true, force: true });
  const blobDir = path.join(dir, "blobs", "sha256");
  mkdirSync(blobDir, { recursive: true });

  const plan = layerPlan(size, shape, seed);
  const layerJobs = [...plan.shared, ...plan.images.flatMap((image) => image.layers)];
  const limit = Math.max(1, Math.min(os.availableParallelism(), layerJobs.length));
  const written = await runAll(
    layerJobs.map((layer) => ({ dir: blobDir, seed, ...layer })),
    limit,
  );
  const byName = new Map(layerJobs.map((layer, i) => [layer.name, written[i]]));

  const layerMedia = "application/vnd.oci.image.layer.v1.tar+gzip";
  const manifests = plan.images.map((image) => {
    const layers = [...plan.shared, ...image.layers].map((layer) => byName.get(layer.name));
    const config = putJson(
      blobDir,
      {
        created: CREATED,
        architecture: "amd64",
        os: "linux",
        config: {
          Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
          Cmd: ["/bin/sh"],
          Labels: { "org.opencontainers.image.title": image.ref },
        },
        rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
        history: [...plan.shared, ...image.layers].map((layer) => ({
          created: CREATED,
          created_by: `ferry bench: ${layer.name} (${layer.payloadSize} random bytes)`,
        })),
      },
      "application/vnd.oci.image.config.v1+json",
    );
    const manifest = putJson(
      blobDir,
      {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config,
        layers: layers.map((layer) => ({
          mediaType: layerMedia,
          digest: layer.digest,
          size: layer.size,
        })),
      },
      "application/vnd.oci.image.manifest.v1+json",
    );
    return { ...manifest, ref: image.ref, config };
  });
  writeFileSync(path.join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    path.join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: manifests.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        annotations: { "org.opencontainers.image.ref.name": m.ref },
      })),
    }),
  );
  const blobs = [
    ...written.map(({ digest, size: bytes }) => ({ digest, size: bytes, kind: "layer" })),
    ...manifests.flatMap((m) => [
      { digest: m.config.digest, size: m.config.size, kind: "config" },
      { digest: m.digest, size: m.size, kind: "manifest" },
    ]),
  ];
  const summary = {
    params,
    images: manifests.map((m) => ({ ref: m.ref, digest: m.digest })),
    blobs,
    bytes: blobs.reduce((sum, blob) => sum + blob.size, 0),
    imageBytes: manifests.reduce(
      (sum, m) =>
        sum +
        m.size +
        m.config.size +
        [...plan.shared, ...plan.images.find((i) => i.ref === m.ref).layers]
          .map((l) => byName.get(l.name).size)
          .reduce((a, b) => a + b, 0),
      0,
    ),
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
  writeFileSync(markerFile, JSON.stringify(summary, null, 2));
  return { ...summary, reused: false };
}

function usage() {
  return "usage: node bench/gen-data.mjs DIR [--size BYTES|1GiB|5GiB] [--shape few-large|many-small] [--seed S] [--force]";
}

async function cli(argv) {
  let dir;
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--size") options.size = parseSize(argv[++i]);
    else if (arg === "--seed") options.seed = argv[++i];
    else if (arg === "--shape") options.shape = argv[++i];
    else if (arg === "--force") options.force = true;
    else if (arg === "-h" || arg === "--help") {
      console.log(usage());
      return;
    } else if (!dir && !arg.startsWith("-")) dir = arg;
    else throw new Error(`unexpected argument ${arg}\n${usage()}`);
  }
  if (!dir) throw new Error(usage());
  const summary = await generate(path.resolve(dir), options);
  const { blobs: _blobs, ...short } = summary;
  console.log(JSON.stringify(short, null, 2));
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
