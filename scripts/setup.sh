#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian machine (run as root): the real
# distribution registry, skopeo and umoci for interoperability, wimtools for real WIM files,
# tinyproxy (a real HTTP proxy for the proxy tests), the Docker engine and containerd (with ctr:
# the engine tests and `ferry serve`'s real clients start their own daemons), unzip/zip, FAT32 and exFAT tools (mkfs and,
# for kernels without the vfat/exfat modules, the FUSE drivers fusefat and exfat-fuse: stores and
# bundles on USB-stick file systems), headless Chromium and poppler-utils (pdftotext: the transfer
# report rendered in a real browser), then the npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(docker-registry skopeo umoci wimtools tinyproxy docker.io containerd unzip zip python3 openssl
  apache2-utils time dosfstools exfatprogs fusefat exfat-fuse chromium poppler-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian packages enable registry, proxy, Docker and containerd services; the tests start
# their own, on loopback ports and private sockets (a system containerd would otherwise be picked
# up by the tests' dockerd at its default socket).
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop docker-registry 2>/dev/null || true
  systemctl disable --now tinyproxy docker.socket docker containerd 2>/dev/null || true
fi
for service in tinyproxy docker containerd; do
  if [ -x "/etc/init.d/$service" ]; then "/etc/init.d/$service" stop >/dev/null 2>&1 || true; fi
done
npm ci --no-audit --no-fund
