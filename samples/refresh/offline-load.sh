#!/usr/bin/env bash
# Offline side: verify and load every refresh on the stick, then write the have-list back
# so the next nightly bundle is a delta.
set -euo pipefail
stick=${1:?usage: offline-load.sh STICK_DIR}
store=${FERRY_STORE:-/var/lib/ferry/store}
trust=${FERRY_TRUST_DIR:-/etc/ferry/trust.d}

for parts in "$stick"/refresh-*.zip.parts; do
  [ -e "$parts" ] || continue
  ferry load "$parts" --store "$store" --trust-dir "$trust" --json > "${parts%.zip.parts}.loaded.json"
done
ferry have --store "$store" -o "$stick/have.json"
