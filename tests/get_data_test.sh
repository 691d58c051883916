#!/usr/bin/env bash
# scripts/get_data.sh on a made-up manifest of one prepared file (no download), in a scratch copy
# of the layout it expects (REPO/scripts beside SHARED = REPO/../shared/data):
#   the file in ../shared/data, right sha256   → copied, exit 0 (strict and --partial)
#   the file nowhere                           → exit 1 naming it; --partial: exit 0
#   the file in ../shared/data, wrong bytes    → exit 1, --partial too: wrong data is never "missing"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/sog_get_data.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
repo="$scratch/repo" shared="$scratch/shared/data"
mkdir -p "$repo/scripts"
cp "$root/scripts/get_data.sh" "$repo/scripts/"
printf 'the data\n' > "$scratch/good.txt"
sha="$(sha256sum "$scratch/good.txt" | cut -d' ' -f1)"
printf '# test manifest\nsub/file.txt\t%s\t-\n' "$sha" > "$repo/scripts/data_manifest.tsv"

fail=0
expect() {  # expect RC DESCRIPTION -- ARGS...; the output is in $scratch/out
  local want="$1" what="$2"; shift 3
  local rc=0
  bash "$repo/scripts/get_data.sh" "$@" > "$scratch/out" 2>&1 || rc=$?
  if (( rc != want )); then
    echo "FAIL: $what: exit $rc, expected $want"; sed 's/^/  | /' "$scratch/out"; fail=1
  fi
}
need_text() { grep -qF -- "$1" "$scratch/out" || { echo "FAIL: output lacks '$1'"; sed 's/^/  | /' "$scratch/out"; fail=1; }; }

# nowhere to be had
expect 1 "strict, file missing" --
need_text "sub/file.txt"
expect 0 "--partial, file missing" -- --partial
need_text "missing: sub/file.txt"
expect 2 "an unknown flag" -- --partail

# in ../shared/data with the wrong bytes
mkdir -p "$shared/sub"
printf 'not the data\n' > "$shared/sub/file.txt"
expect 1 "strict, wrong sha256" --
need_text "sha256 mismatch"
expect 1 "--partial, wrong sha256" -- --partial
[[ ! -e "$repo/data/sub/file.txt" ]] || { echo "FAIL: a file with the wrong sha256 was kept"; fail=1; }

# in ../shared/data, right
cp "$scratch/good.txt" "$shared/sub/file.txt"
expect 0 "strict, file in ../shared/data" --
cmp -s "$scratch/good.txt" "$repo/data/sub/file.txt" || { echo "FAIL: data/sub/file.txt was not copied"; fail=1; }
expect 0 "strict, file already there" --

(( fail == 0 )) && echo "get_data_test: strict and --partial behave as documented"
exit "$fail"
