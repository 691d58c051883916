#!/usr/bin/env bash
# Fetches the third-party data listed in scripts/data_manifest.tsv into data/ (git-ignored).
# Each file is taken from ../shared/data when that folder exists, else downloaded from its public
# source, and its sha256 is checked either way. Files assembled from several sources (marked "-"
# in the manifest) exist only as prepared copies; without one they are reported missing.
#
#   scripts/get_data.sh            # exit 1 if any file of the manifest could not be had
#   scripts/get_data.sh --partial  # exit 0 with what could be had (the pipeline falls back)
#
# Either way a file that was had but with the wrong sha256 is an error (exit 1): it is not missing,
# it is wrong, and nothing should run on it. scripts/test.sh (and so CI) runs the strict form: a
# test run that silently skips the data tests is not the run that was asked for.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="$root/../shared/data"
dest="$root/data"
partial=0
case "${1:-}" in
  "") ;;
  --partial) partial=1 ;;
  *) echo "get_data: unknown argument '$1' (usage: scripts/get_data.sh [--partial])" >&2; exit 2 ;;
esac
mkdir -p "$dest"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
missing=()
corrupt=0
while IFS=$'\t' read -r name sha url; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  target="$dest/$name"
  mkdir -p "$(dirname "$target")"
  if [[ -f "$target" && "$(sha_of "$target")" == "$sha" ]]; then
    continue
  fi
  tmp="$target.tmp.$$"
  if [[ -f "$shared/$name" ]]; then
    cp "$shared/$name" "$tmp"
    from="../shared/data/$name"
  elif [[ "$url" != "-" ]] && command -v curl >/dev/null &&
       curl -fsSL --retry 2 --connect-timeout 10 -o "$tmp" "$url" 2>/dev/null; then
    from="$url"
  else
    rm -f "$tmp"
    echo "get_data: $name: not available (no ../shared/data copy$([[ "$url" != "-" ]] && echo ", download failed"))" >&2
    missing+=("$name")
    continue
  fi
  got="$(sha_of "$tmp")"
  if [[ "$got" != "$sha" ]]; then
    rm -f "$tmp"
    echo "get_data: $name: sha256 mismatch from $from: expected $sha, found $got" >&2
    corrupt=$((corrupt + 1))
    continue
  fi
  mv "$tmp" "$target"
  echo "get_data: $name <- $from (sha256 ok)"
done < "$root/scripts/data_manifest.tsv"

if (( corrupt > 0 )); then
  echo "get_data: $corrupt file(s) with the wrong sha256 (above): not used, an error in any mode" >&2
  exit 1
fi
if (( ${#missing[@]} > 0 )); then
  echo "get_data: ${#missing[@]} file(s) of scripts/data_manifest.tsv missing: ${missing[*]}" >&2
  if (( partial )); then
    echo "get_data: --partial: going on without them (the pipeline falls back; tests that need them skip)" >&2
  else
    echo "get_data: place them in ../shared/data (or allow downloads), or run with --partial to go on without them" >&2
    exit 1
  fi
fi
exit 0
