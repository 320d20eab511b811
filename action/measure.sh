#!/usr/bin/env bash
# Measures how long the Action takes to get elevate running, the way
# action/action.yml does it, against `go run ./cmd/elevate`, each with a cold
# and a warm cache. "Running" is `elevate version` returning. It runs here,
# not on a runner: what only GitHub does (downloading the Go toolchain with
# setup-go, moving a cache archive to and from the cache service) is not in
# the figures; the sizes printed say how much such a transfer would move.
#
#   bash action/measure.sh
#
# Cold means empty Go module and build caches (modules come from GOPROXY);
# warm means both already filled. For the Action, cold is a cache miss (hash
# the source, build, pack the binary for actions/cache/save) and warm is a
# hit (hash the source, unpack the cached binary, run it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
fresh() {
  export GOMODCACHE="$work/$1/mod" GOCACHE="$work/$1/build"
  mkdir -p "$GOMODCACHE" "$GOCACHE"
}
# The action.yml "Hash the elevate source" step.
source_key() {
  find go.mod go.sum cmd internal schema -type f \( -name '*.go' -o -name '*.json' -o -name go.mod -o -name go.sum \) \
    ! -name '*_test.go' ! -path '*/testdata/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-40
}
size() { du -sh "$1" | cut -f1; }
# quiet runs a command, showing its output only if it fails.
quiet() { "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }; }

export GOFLAGS=-modcacherw
echo "elevate: job start to tool running ($(go version | cut -d' ' -f3), $(nproc) cores)"

fresh gorun
t=$(now); quiet go run ./cmd/elevate version; gorun_cold=$(since "$t")
t=$(now); quiet go run ./cmd/elevate version; gorun_warm=$(since "$t")
gocache_size="$(size "$GOMODCACHE") modules + $(size "$GOCACHE") build cache"

fresh action
bin="$work/elevate-bin"
t=$(now)
key=$(source_key)
quiet go build -trimpath -ldflags "-s -w -X github.com/elevate-dev/elevate/internal/cli.Commit=$key" -o "$bin/elevate" ./cmd/elevate
quiet "$bin/elevate" version
miss=$(since "$t")
# What actions/cache/save uploads: the binary folder as tar + zstd.
t=$(now); tar -C "$bin" -cf - . | zstd -q -T0 -o "$work/cache.tzst"; pack=$(since "$t")
rm -rf "$bin"
t=$(now)
key2=$(source_key)
mkdir -p "$bin" && zstd -q -d -c "$work/cache.tzst" | tar -C "$bin" -xf -
quiet "$bin/elevate" version
hit=$(since "$t")
[ "$key" = "$key2" ] || { echo "FAIL: the source key changed between runs" >&2; exit 1; }

printf '\n| how | cold cache (s) | warm cache (s) |\n|---|---|---|\n'
printf '| `go run ./cmd/elevate` | %s | %s |\n' "$gorun_cold" "$gorun_warm"
printf '| action/action.yml (build once, cache the binary) | %s (miss: build; +%s to pack for the cache) | %s (hit) |\n' "$miss" "$pack" "$hit"
printf '\nwarm `go run` on a runner must first restore %s;\nthe Action restores one archive of %s.\n' "$gocache_size" "$(du -h "$work/cache.tzst" | cut -f1)"
