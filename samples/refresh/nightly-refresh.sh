#!/usr/bin/env bash
# Connected side, nightly: save what the offline store lacks onto the USB stick.
#
# cron (every night at 01:30):
#   30 1 * * *  /opt/ferry/samples/refresh/nightly-refresh.sh /media/usb >> /var/log/ferry-refresh.log 2>&1
#
# The stick carries back `have.json` from the offline host (see offline-load.sh), so each
# bundle holds only the layers the offline store does not have yet.
set -euo pipefail
stick=${1:?usage: nightly-refresh.sh STICK_DIR}
here=$(cd "$(dirname "$0")" && pwd)
key=${FERRY_SIGNING_KEY:-/etc/ferry/signing.key}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
bundle="$stick/refresh-$stamp.zip"

args=(save -f "$here/images.yaml" -o "$bundle" --split fat32 --parity --json)
[ -f "$stick/have.json" ] && args+=(--since "$stick/have.json")   # a delta when we know what they have
[ -f "$key" ] && args+=(--sign "$key")

ferry "${args[@]}" > "$stick/refresh-$stamp.summary.json"
# Check what landed on the stick before anyone carries it.
ferry verify "$bundle.parts" --json > "$stick/refresh-$stamp.verify.json"
echo "refresh $stamp written to $stick"
