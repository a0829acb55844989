#!/usr/bin/env bash
# Issue 17's engine rows: `ferry load B.zip --to docker` against `docker load -i` of the
# equivalent tarball (the one `docker save` writes of the same images), into a real dockerd of
# its own (vfs, no networking, in bench/work/engines/), and `ferry save docker-daemon:` against
# `docker save -o`. As root (dockerd). Medians of --reps runs (default 3), alternating ferry and
# docker; before each load the engine's images are removed, so both start from an empty engine.
#   bash bench/engines.sh [--size 256] [--reps 3] [--ferry bin/ferry]
# Prints one markdown table (also bench/work/engines/results.md). See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=256
reps=3
ferry_bin=bin/ferry
while [ $# -gt 0 ]; do
  case "$1" in
  --size) size_mib=$2; shift 2 ;;
  --reps) reps=$2; shift 2 ;;
  --ferry) ferry_bin=$2; shift 2 ;;
  -h | --help) sed -n 2,8p "$0"; exit 0 ;;
  *) echo "engines.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "engines.sh: dockerd starts as root only" >&2; exit 2; }
command -v dockerd >/dev/null || { echo "engines.sh: dockerd missing (scripts/setup.sh installs docker.io)" >&2; exit 2; }
[ "$ferry_bin" != bin/ferry ] || [ -f dist/cli/main.js ] || npm run build >/dev/null

work=$PWD/bench/work/engines
rm -rf "$work"
mkdir -p "$work"
engine=$(mktemp -d /tmp/ferry-bench-dockerd.XXXXXX)
sock=$engine/docker.sock
export DOCKER_HOST=unix://$sock DOCKER_CONFIG=$engine/cli FERRY_PROGRESS=none
export FERRY_CACHE=$work/cache FERRY_STATE_DIR=$work/state

dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
  --data-root "$engine/data" --exec-root "$engine/exec" --pidfile "$engine/docker.pid" \
  -H "unix://$sock" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
cleanup() {
  kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  grep -o " $engine[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$engine"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  kill -0 "$dockerd_pid" 2>/dev/null || { echo "dockerd exited:" >&2; tail -20 "$work/dockerd.log" >&2; exit 1; }
  docker version >/dev/null 2>&1 && break
  sleep 0.2
done

# Three images sharing a base layer, ~size_mib in all, random (incompressible) bytes: the shape
# of bench/bench.mjs's data (a base and two layers per image).
python3 - "$work/source.tar" "$size_mib" <<'EOF'
import hashlib, io, json, os, sys, tarfile
out, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
def layer(name, nbytes):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        left, i = nbytes, 0
        while left > 0:
            n = min(left, 16 * 1024 * 1024)
            info = tarfile.TarInfo(f"{name}/part{i}.bin"); info.size = n; info.mtime = 1767225600
            t.addfile(info, io.BytesIO(os.urandom(n))); left -= n; i += 1
    return buf.getvalue()
base = layer("base", size * 2 // 5)
files, manifest = {}, []
for k in (1, 2, 3):
    layers = [base, layer(f"app{k}", size // 5)]
    diff = [hashlib.sha256(l).hexdigest() for l in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": [f"/app{k}"]}, "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"layer {j}"} for j in range(2)]}).encode()
    cid = hashlib.sha256(config).hexdigest()
    files[f"{cid}.json"] = config
    for d, l in zip(diff, layers): files[f"{d}/layer.tar"] = l
    manifest.append({"Config": f"{cid}.json", "RepoTags": [f"ferry-bench/app{k}:1.0"], "Layers": [f"{d}/layer.tar" for d in diff]})
files["manifest.json"] = json.dumps(manifest).encode()
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in files.items():
        info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 1767225600
        t.addfile(info, io.BytesIO(data))
EOF
docker load -q -i "$work/source.tar" >/dev/null
rm -f "$work/source.tar"
refs=(ferry-bench/app1:1.0 ferry-bench/app2:1.0 ferry-bench/app3:1.0)
daemon_refs=("${refs[@]/#/docker-daemon:}")

# One timed run: seconds and peak RSS (MB) into $secs / $rss.
timed() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
  read -r secs kb <"$work/time"
  rss=$((kb / 1024))
}
empty_engine() {
  docker rmi -f $(docker images -q | sort -u) >/dev/null 2>&1 || true
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -a fs_s ds_s fl_s dl_s fs_m ds_m fl_m dl_m
for rep in $(seq 1 "$reps"); do
  rm -f "$work/b.zip" "$work/images.tar"
  timed node "$ferry_bin" save "${daemon_refs[@]}" -o "$work/b.zip" -q; fs_s+=("$secs"); fs_m+=("$rss")
  timed docker save -o "$work/images.tar" "${refs[@]}"; ds_s+=("$secs"); ds_m+=("$rss")
  [ "$rep" = "$reps" ] && { cp "$work/b.zip" "$work/b.keep.zip"; cp "$work/images.tar" "$work/images.keep.tar"; }
done
mv "$work/b.keep.zip" "$work/b.zip"
mv "$work/images.keep.tar" "$work/images.tar"
for rep in $(seq 1 "$reps"); do
  empty_engine
  timed node "$ferry_bin" load "$work/b.zip" --to docker -q; fl_s+=("$secs"); fl_m+=("$rss")
  empty_engine
  timed docker load -q -i "$work/images.tar"; dl_s+=("$secs"); dl_m+=("$rss")
  echo "engines.sh: repetition $rep/$reps done" >&2
done
# Both loads end with the same image IDs.
ids=$(docker images -q --no-trunc | sort -u | tr '\n' ' ')
empty_engine
node "$ferry_bin" load "$work/b.zip" --to docker -q >/dev/null
[ "$ids" = "$(docker images -q --no-trunc | sort -u | tr '\n' ' ')" ] || { echo "engines.sh: image IDs differ" >&2; exit 1; }

bundle_mb=$(($(stat -c %s "$work/b.zip") / 1048576))
tar_mb=$(($(stat -c %s "$work/images.tar") / 1048576))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fs=$(median "${fs_s[@]}"); ds=$(median "${ds_s[@]}"); fl=$(median "${fl_s[@]}"); dl=$(median "${dl_s[@]}")
{
  echo "| what ($size_mib MiB of layers, 3 images; bundle $bundle_mb MB, tarball $tar_mb MB; median of $reps) | ferry s | ferry MB | docker s | docker MB | ferry/docker |"
  echo "| --- | --- | --- | --- | --- | --- |"
  echo "| save: \`ferry save docker-daemon:…\` vs \`docker save -o\` | $fs | $(median "${fs_m[@]}") | $ds | $(median "${ds_m[@]}") | $(ratio "$fs" "$ds") |"
  echo "| load: \`ferry load b.zip --to docker\` vs \`docker load -i images.tar\` | $fl | $(median "${fl_m[@]}") | $dl | $(median "${dl_m[@]}") | $(ratio "$fl" "$dl") |"
} | tee "$work/results.md"
