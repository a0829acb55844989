#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian machine (run as root): the real
# distribution registry, skopeo and umoci for interoperability, wimtools for real WIM files,
# tinyproxy (a real HTTP proxy for the proxy tests), the Docker engine and containerd (with ctr)
# for the engine tests, unzip/zip, then the npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(docker-registry skopeo umoci wimtools tinyproxy docker.io containerd unzip zip python3 openssl
  apache2-utils time)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian packages enable a registry service, a proxy service and the engines' services; the
# tests start their own (on loopback ports; dockerd and containerd in temp folders of their own).
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop docker-registry 2>/dev/null || true
  systemctl disable --now tinyproxy 2>/dev/null || true
  systemctl disable --now docker.socket docker containerd 2>/dev/null || true
fi
if [ -x /etc/init.d/tinyproxy ]; then /etc/init.d/tinyproxy stop >/dev/null 2>&1 || true; fi
npm ci --no-audit --no-fund
