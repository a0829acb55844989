#!/usr/bin/env bash
# The main job on the bundled samples, end to end, with no network:
# save (OCI layout + docker save archive) -> inspect -> verify -> load into a store -> list.
set -euo pipefail
cd "$(dirname "$0")/.."
out=ferry-demo
rm -rf "$out"
mkdir -p "$out"
ferry() { node bin/ferry "$@"; }
set -x
ferry save oci:samples/oci docker-archive:samples/docker-save.tar -o "$out/bundle.zip"
ferry inspect "$out/bundle.zip"
ferry verify "$out/bundle.zip"
ferry load "$out/bundle.zip" --store "$out/store"
ferry images --store "$out/store"
