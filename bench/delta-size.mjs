#!/usr/bin/env node
// Issue 6's refresh benchmark: the size of a delta bundle when one 10 MiB layer of a 1 GiB image
// set changed, against the full bundle of the new state. Target: the new layer plus < 64 KiB.
//
// usage: node bench/delta-size.mjs [--size 1GiB] [--ferry bin/ferry]
// Uses bench/gen-data.mjs for the image set; works in bench/work/delta/.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const size = option("--size", "1GiB");
const ferryBin = path.resolve(option("--ferry", path.join(root, "bin", "ferry")));
const work = path.join(root, "bench", "work", "delta");
const MiB = 1024 * 1024;

const ferry = (...argv) =>
  JSON.parse(
    execFileSync(process.execPath, [ferryBin, ...argv, "--json"], {
      maxBuffer: 1 << 26,
    }).toString(),
  );
const sha = (bytes) => createHash("sha256").update(bytes).digest("hex");

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const v1 = path.join(work, "v1");
execFileSync(process.execPath, [path.join(root, "bench", "gen-data.mjs"), v1, "--size", size], {
  stdio: "ignore",
});

// The offline side has v1.
ferry("save", `oci:${v1}`, "-o", path.join(work, "v1.zip"));
ferry("load", path.join(work, "v1.zip"), "--store", path.join(work, "store"));
ferry("have", "--store", path.join(work, "store"), "-o", path.join(work, "have.json"));

// v2: the first image's top layer replaced by a new 10 MiB layer (manifest and config rewritten).
const v2 = path.join(work, "v2");
cpSync(v1, v2, { recursive: true });
const blob = (digest) => path.join(v2, "blobs", "sha256", digest.slice(7));
const put = (bytes) => {
  const hex = sha(bytes);
  writeFileSync(path.join(v2, "blobs", "sha256", hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
};
const index = JSON.parse(readFileSync(path.join(v2, "index.json"), "utf8"));
const entry = index.manifests[0];
const manifest = JSON.parse(readFileSync(blob(entry.digest), "utf8"));
const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8"));
const layer = randomBytes(10 * MiB);
manifest.layers[manifest.layers.length - 1] = {
  mediaType: manifest.layers.at(-1).mediaType,
  ...put(layer),
};
config.rootfs.diff_ids[config.rootfs.diff_ids.length - 1] = `sha256:${sha(layer)}`;
manifest.config = { ...manifest.config, ...put(Buffer.from(JSON.stringify(config))) };
Object.assign(entry, put(Buffer.from(JSON.stringify(manifest))));
writeFileSync(path.join(v2, "index.json"), JSON.stringify(index));

const full = ferry("save", `oci:${v2}`, "-o", path.join(work, "v2-full.zip"));
const delta = ferry(
  "save",
  `oci:${v2}`,
  "-o",
  path.join(work, "v2-delta.zip"),
  "--since",
  path.join(work, "have.json"),
);
const fullBytes = statSync(full.bundle).size;
const deltaBytes = statSync(delta.bundle).size;
const overhead = deltaBytes - layer.length;
console.log(`image set: ${size}; one ${layer.length / MiB} MiB layer changed`);
console.log(`| bundle | bytes | ratio to full |`);
console.log(`|---|---:|---:|`);
console.log(`| full bundle of the new state | ${fullBytes} | 1 |`);
console.log(
  `| delta (--since have.json) | ${deltaBytes} | ${(deltaBytes / fullBytes).toFixed(4)} |`,
);
console.log(
  `delta = the new layer + ${overhead} bytes (${(overhead / 1024).toFixed(1)} KiB; target < 64 KiB): ${overhead < 64 * 1024 ? "PASS" : "FAIL"}`,
);
console.log(`per image: ${delta.images.map((i) => `${i.ref} ${i.status}`).join(", ")}`);
