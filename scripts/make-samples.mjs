#!/usr/bin/env node
// Regenerates samples/: a small OCI layout and a classic `docker save` archive, built
// deterministically with GNU tar and gzip -n. The output is committed; run this only to change it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "samples");
const work = mkdtempSync(path.join(os.tmpdir(), "ferry-samples-"));
const sha = (b) => createHash("sha256").update(b).digest("hex");

/** A tar of everything in `dir`, the same bytes on every run (names sorted, times and owners fixed). */
function tarOf(dir, tarFile, format) {
  execFileSync("tar", [
    "--sort=name",
    "--mtime=2026-01-01 00:00Z",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    ...format,
    "-C",
    dir,
    "-cf",
    tarFile,
    ".",
  ]);
}

function layerTar(name, files) {
  const dir = path.join(work, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  const tarFile = path.join(work, `${name}.tar`);
  tarOf(dir, tarFile, [
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
  ]);
  return readFileSync(tarFile);
}
const gzip = (buf) => execFileSync("gzip", ["-n", "-9"], { input: buf });

const base = layerTar("base", {
  "etc/os-release": "NAME=ferry-sample\nVERSION_ID=1\n",
  "bin/hello": "#!/bin/sh\necho hello from ferry\n",
});
const app = layerTar("app", { "app/greeting.txt": "hello, air gap\n" });
const tools = layerTar("tools", { "usr/local/bin/tool": "#!/bin/sh\necho tool\n" });
const winLayer = layerTar("win", {
  "Files/Windows/ferry.txt": "a windows layer\r\n",
  "Hives/DefaultUser_Delta": "",
});

// ---- OCI layout
const oci = path.join(root, "oci");
rmSync(oci, { recursive: true, force: true });
mkdirSync(path.join(oci, "blobs", "sha256"), { recursive: true });
const put = (bytes) => {
  const hex = sha(bytes);
  writeFileSync(path.join(oci, "blobs", "sha256", hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
};
const created = "2026-01-01T00:00:00Z";
function image(platform, layersRaw, cmd) {
  const layers = layersRaw.map((raw) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    ...put(gzip(raw)),
  }));
  const config = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform["os.version"] ? { "os.version": platform["os.version"] } : {}),
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Cmd: cmd },
    rootfs: { type: "layers", diff_ids: layersRaw.map((raw) => `sha256:${sha(raw)}`) },
    history: layersRaw.map((_, i) => ({ created, created_by: `ferry sample step ${i + 1}` })),
  };
  const configDesc = {
    mediaType: "application/vnd.oci.image.config.v1+json",
    ...put(Buffer.from(JSON.stringify(config))),
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: configDesc,
    layers,
  };
  return {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...put(Buffer.from(JSON.stringify(manifest))),
    platform,
  };
}
const hello = image({ os: "linux", architecture: "amd64" }, [base, app], ["/bin/hello"]);
const arm = image(
  { os: "linux", architecture: "arm64", variant: "v8" },
  [base, app],
  ["/bin/hello"],
);
const win = image(
  { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2113" },
  [winLayer],
  ["cmd"],
);
const index = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [hello, arm, win],
};
const indexDesc = {
  mediaType: "application/vnd.oci.image.index.v1+json",
  ...put(Buffer.from(JSON.stringify(index))),
};
const { platform: _p, ...helloDesc } = hello;
writeFileSync(path.join(oci, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
writeFileSync(
  path.join(oci, "index.json"),
  JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          ...helloDesc,
          annotations: { "org.opencontainers.image.ref.name": "example.com/ferry/hello:1.0" },
        },
        {
          ...indexDesc,
          annotations: { "org.opencontainers.image.ref.name": "example.com/ferry/hello:multi" },
        },
      ],
    },
    null,
    2,
  ),
);

// ---- classic docker save archive (uncompressed layers named by layer id; shares `base`)
const ds = path.join(work, "docker-save");
mkdirSync(ds, { recursive: true });
const dsLayers = [base, tools].map((raw) => {
  const id = sha(Buffer.concat([Buffer.from("layer-id:"), raw]));
  mkdirSync(path.join(ds, id), { recursive: true });
  writeFileSync(path.join(ds, id, "layer.tar"), raw);
  writeFileSync(path.join(ds, id, "VERSION"), "1.0");
  return { id, raw };
});
const dsConfig = Buffer.from(
  JSON.stringify({
    created,
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/usr/local/bin/tool"] },
    rootfs: { type: "layers", diff_ids: dsLayers.map((l) => `sha256:${sha(l.raw)}`) },
    history: [
      { created, created_by: "base" },
      { created, created_by: "tools" },
    ],
  }),
);
writeFileSync(path.join(ds, `${sha(dsConfig)}.json`), dsConfig);
writeFileSync(
  path.join(ds, "manifest.json"),
  JSON.stringify([
    {
      Config: `${sha(dsConfig)}.json`,
      RepoTags: ["example.com/ferry/tools:1.0", "example.com/ferry/tools:latest"],
      Layers: dsLayers.map((l) => `${l.id}/layer.tar`),
    },
  ]),
);
writeFileSync(
  path.join(ds, "repositories"),
  JSON.stringify({ "example.com/ferry/tools": { "1.0": dsLayers[1].id, latest: dsLayers[1].id } }),
);
tarOf(ds, path.join(root, "docker-save.tar"), ["--format=gnu"]);
rmSync(work, { recursive: true, force: true });
console.log(`samples written to ${root}`);
