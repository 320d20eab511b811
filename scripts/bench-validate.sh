#!/usr/bin/env bash
# Measures `elevate validate` on big repositories: wall time and peak memory.
#   tree mode: 10,000 request files in the working tree;
#   PR mode:   one added request in a repo whose main holds 10,000 requests.
# Usage: scripts/bench-validate.sh [N]   (default N=10000)
set -euo pipefail
n=${1:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/elevate" "$root/cmd/elevate"
repo="$work/repo"
mkdir -p "$repo/requests"
cp -r "$root/policies" "$root/schema" "$repo/"
for i in $(seq 1 "$n"); do
  printf 'requester: alice\naccount: sandbox\npermissionSet: ReadOnlyAccess\nduration: 2h\nreason: Load test request number %d\n' "$i" > "$repo/requests/load-$i.yaml"
done
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" commit -qm base
git -C "$repo" checkout -q -b pr
printf 'requester: alice\naccount: sandbox\npermissionSet: ReadOnlyAccess\nduration: 2h\nreason: The one new request\n' > "$repo/requests/new-one.yaml"
git -C "$repo" add -A && git -C "$repo" commit -qm pr

measure() { # label, args...
  local label=$1; shift
  local best=""
  for run in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/t" "$work/elevate" "$@" > "$work/out" || true
    read -r secs kb < "$work/t"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < ${best%% *})}"; then best="$secs $kb"; fi
  done
  printf '%-40s %6ss  peak %6d KiB  (%s)\n' "$label" "${best%% *}" "${best##* }" "$(tail -1 "$work/out")"
}
cd "$repo"
measure "validate, $n requests (tree mode)" validate
measure "validate --base main, 1 added of $n" validate --base main --author alice
