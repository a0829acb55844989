#!/usr/bin/env bash
# ferry benchmark entry point (also `npm run bench`): one table, every row of issues 2, 4 and 7.
#   bash bench/run.sh            ~1 GiB, 3 repetitions, median reported
#   bash bench/run.sh --big      ~5 GiB, 1 repetition (peak RSS on a 5 GiB bundle), every row
#   bash bench/run.sh --size 128MiB --reps 1 --quiet-wait 0     a quick smoke run
#   bash bench/run.sh --only registry,latency --no-skopeo --strict ...
#   bash bench/run.sh --worktree   build the working tree instead of the committed HEAD
#   bash bench/run.sh --ferry /other/checkout/bin/ferry --tag try1   (benchmark another build)
# Generated data, the private ferry build, bundles and results go to bench/work/ (gitignored).
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

own_build=1
for arg in "$@"; do
  case "$arg" in
  --ferry) own_build=0 ;;
  -h | --help) exec node bench/bench.mjs --help ;;
  esac
done

# Benchmark a private build in bench/work/ferry, of the committed tree (HEAD) by default or of
# the working tree with --worktree: dist/ is shared with whoever runs `npm run build` or the
# tests meanwhile, and a rebuild in the middle of a run would mix two versions of ferry (a
# bundle saved by one, verified by the other); a working tree other people are editing may
# not even build. JavaScript only (no .d.ts, which tsconfig.json's "bench" include would see).
worktree=0
for arg in "$@"; do [ "$arg" = --worktree ] && worktree=1; done
args=()
for arg in "$@"; do [ "$arg" = --worktree ] || args+=("$arg"); done
if [ "$own_build" = 1 ]; then
  build=bench/work/ferry
  rm -rf "$build"
  mkdir -p "$build/bin"
  if [ "$worktree" = 1 ]; then
    src_root=.
    what="working tree of $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(git status --porcelain src 2>/dev/null | wc -l) uncommitted file(s) under src/"
  else
    src_root=$(mktemp -d /tmp/ferry-bench-src.XXXXXX)
    trap 'rm -rf "$src_root"' EXIT
    git archive HEAD src bin package.json tsconfig.json tsconfig.build.json | tar -x -C "$src_root"
    ln -s "$PWD/node_modules" "$src_root/node_modules"
    what="commit $(git rev-parse --short HEAD)"
  fi
  cp "$src_root/package.json" "$build/"
  cp "$src_root/bin/ferry" "$build/bin/ferry"
  echo "bench: building ferry ($what) into $build" >&2
  if ! node_modules/.bin/tsc -p "$src_root/tsconfig.build.json" --outDir "$build/dist" \
    --declaration false --declarationMap false --sourceMap false >"$build/tsc.log" 2>&1; then
    echo "bench: warning: tsc reported errors (see $build/tsc.log); benchmarking what it emitted" >&2
  fi
  [ -f "$build/dist/cli/main.js" ] || {
    echo "bench: the build produced no dist/cli/main.js" >&2
    exit 2
  }
  echo "$what, built $(date -u +%FT%TZ)" >"$build/BUILD-INFO"
  if [ "$worktree" = 0 ]; then
    rm -rf "$src_root"
    trap - EXIT
  fi
  args=(--ferry "$build/bin/ferry" "${args[@]}")
fi

# Peak RSS comes from GNU time (%M). Install it when missing and we may; otherwise bench.mjs
# falls back to polling /proc/PID/status VmHWM.
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: /usr/bin/time is missing; installing the 'time' package" >&2
    apt-cache policy time >&2 || true
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2; then
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2; } ||
        echo "bench: could not install 'time'; peak RSS will be polled from /proc" >&2
    fi
  else
    echo "bench: /usr/bin/time is missing; peak RSS will be polled from /proc" >&2
  fi
fi

for tool in skopeo openssl curl unzip sha256sum docker-registry; do
  command -v "$tool" >/dev/null 2>&1 ||
    echo "bench: $tool is missing: its rows stay empty (Debian: apt-get install $tool; sha256sum is in coreutils)" >&2
done

exec node bench/bench.mjs "${args[@]}"
