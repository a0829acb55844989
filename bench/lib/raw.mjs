// The raw-limit peers for the registry rows, as small sh scripts around curl and openssl:
//   fetch: `curl URL | openssl dgst -sha256` over every blob and manifest of the images, N at a
//          time (xargs -P), printing one digest per blob (checked by the caller);
//   push:  every unique blob uploaded once (monolithic POST + PUT ?digest=, N at a time), the
//          shared ones mounted into the other repositories, then the manifests PUT by tag.
// Both read the blob lists the caller builds from the OCI layout (`imageBlobs`).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { q } from "./measure.mjs";

const ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/**
 * For each image of an OCI layout: its repository in the registry, tag, manifest (digest,
 * media type) and the blobs it needs (config and layers: digest, size, file).
 */
export function imageBlobs(layoutDir, images, repoOf) {
  const blobFile = (digest) => path.join(layoutDir, "blobs", "sha256", digest.slice(7));
  return images.map((image) => {
    const manifest = JSON.parse(readFileSync(blobFile(image.digest), "utf8"));
    const { repo, tag } = repoOf(image.ref);
    return {
      ref: image.ref,
      repo,
      tag,
      manifest: {
        digest: image.digest,
        mediaType: manifest.mediaType,
        file: blobFile(image.digest),
      },
      blobs: [manifest.config, ...manifest.layers].map((d) => ({
        digest: d.digest,
        size: d.size,
        file: blobFile(d.digest),
      })),
    };
  });
}

/** The unique blobs, each with the first repository that has it. */
function uniqueBlobs(images) {
  const seen = new Map();
  for (const image of images) {
    for (const blob of image.blobs) {
      if (!seen.has(blob.digest)) seen.set(blob.digest, { ...blob, repo: image.repo });
    }
  }
  return [...seen.values()];
}

/** The digests the fetch script must print (manifests, configs, layers), sorted. */
export function expectedFetchDigests(images) {
  const all = new Set();
  for (const image of images) {
    all.add(image.manifest.digest);
    for (const blob of image.blobs) all.add(blob.digest);
  }
  return [...all].sort();
}

/** Parse the fetch script's output (`SHA2-256(stdin)= HEX` lines) into sorted digests. */
export function fetchedDigests(stdout) {
  return stdout
    .split("\n")
    .map((line) => /=\s*([0-9a-f]{64})\s*$/.exec(line)?.[1])
    .filter(Boolean)
    .map((hex) => `sha256:${hex}`)
    .sort();
}

/**
 * Write `file`: `sh file BASE_URL JOBS` fetches every manifest and blob of `images` from the
 * registry at BASE_URL, JOBS at a time, each piped into `openssl dgst -sha256`.
 */
export function writeFetchScript(file, images) {
  const lines = [];
  for (const image of images) lines.push(`/v2/${image.repo}/manifests/${image.manifest.digest}`);
  for (const blob of uniqueBlobs(images)) lines.push(`/v2/${blob.repo}/blobs/${blob.digest}`);
  const accept = q(`Accept: ${ACCEPT}`).replaceAll("'", '"');
  const script = `#!/bin/sh
# ferry bench (raw limit): every manifest and blob, curl | openssl dgst -sha256, JOBS at a time.
# With OUT_DIR, each is also written there (tee) and the file system synced at the end: the
# floor for fetching, hashing and keeping the bytes.
# usage: sh ${path.basename(file)} BASE_URL JOBS [OUT_DIR]
set -e
base=$1
jobs=$2
out=$3
export out
xargs -P "$jobs" -n 1 sh -c 'if [ -n "$out" ]; then curl -sSf -H ${accept} "$0$1" | tee "$out/$(basename "$1")"; else curl -sSf -H ${accept} "$0$1"; fi | openssl dgst -sha256' "$base" <<'LIST'
${lines.join("\n")}
LIST
if [ -n "$out" ]; then sync -f "$out"; fi
`;
  writeFileSync(file, script);
  return file;
}

/**
 * Write `file`: `sh file BASE_URL JOBS` pushes `images` into the registry at BASE_URL: each
 * unique blob uploaded once (POST, then one PUT of the whole file with ?digest=), JOBS at a
 * time; blobs shared with an earlier repository mounted (POST ?mount=&from=); then the
 * manifests, by tag.
 */
export function writePushScript(file, images) {
  const uploads = uniqueBlobs(images);
  const firstRepo = new Map(uploads.map((blob) => [blob.digest, blob.repo]));
  const mounts = [];
  const mounted = new Set();
  for (const image of images) {
    for (const blob of image.blobs) {
      const from = firstRepo.get(blob.digest);
      const key = `${image.repo} ${blob.digest}`;
      if (from !== image.repo && !mounted.has(key)) {
        mounted.add(key);
        mounts.push(
          `curl -sSf -X POST -o /dev/null "$base/v2/${image.repo}/blobs/uploads/?mount=${blob.digest}&from=${from}"`,
        );
      }
    }
  }
  const manifests = images.map(
    (image) =>
      `curl -sSf -X PUT -o /dev/null -H ${q(`Content-Type: ${image.manifest.mediaType}`)} --data-binary @${q(image.manifest.file)} "$base/v2/${image.repo}/manifests/${image.tag}"`,
  );
  const script = `#!/bin/sh
# ferry bench (raw limit): push with curl. Every unique blob: POST an upload, PUT the whole file
# with ?digest= (JOBS at a time); shared blobs mounted into the other repositories; manifests.
# usage: sh ${path.basename(file)} BASE_URL JOBS
set -e
base=$1
jobs=$2
if [ "$jobs" = upload ]; then
  repo=$3 digest=$4 file=$5
  location=$(curl -sSf -X POST -o /dev/null -w '%header{location}' "$base/v2/$repo/blobs/uploads/")
  case $location in http*) ;; *) location=$base$location ;; esac
  case $location in *\\?*) sep='&' ;; *) sep='?' ;; esac
  exec curl -sSf -X PUT -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream' \\
    -T "$file" "$location\${sep}digest=$digest"
fi
xargs -P "$jobs" -L 1 sh "$0" "$base" upload <<'LIST'
${uploads.map((blob) => `${blob.repo} ${blob.digest} ${blob.file}`).join("\n")}
LIST
${mounts.join("\n")}
${manifests.join("\n")}
`;
  writeFileSync(file, script);
  return file;
}
