#!/usr/bin/env bash
# The test command: installs what is missing, fetches the data, configures, builds everything
# (the CUDA code too when nvcc is present) and runs every test with ctest.
#
#   scripts/test.sh                       # Release build (build/release), all tests
#   scripts/test.sh --sanitize            # also the Debug build with AddressSanitizer + UBSan (build/debug)
#   scripts/test.sh --allow-missing-data  # go on when third-party data cannot be had
#
# The third-party data (scripts/data_manifest.tsv) is part of the test run: when a file of it
# cannot be had, the run stops here, loudly, rather than passing with the tests that read it
# skipped. CI (.ci/run) runs this strict form beside ../shared/data. Without that folder and
# without network, --allow-missing-data runs everything else; the tests that need a missing file
# then report themselves skipped, each with the file's name.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sanitize=0
data_mode=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    --allow-missing-data) data_mode=(--partial) ;;
    *) echo "test: unknown argument '$arg' (usage: scripts/test.sh [--sanitize] [--allow-missing-data])" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
if ! scripts/get_data.sh "${data_mode[@]}"; then
  echo "test: the third-party data is incomplete (above), so the tests that read it would be skipped." >&2
  echo "test: provide it (../shared/data, or network), or run scripts/test.sh --allow-missing-data knowingly." >&2
  exit 1
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

run_preset() {
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1"
  ctest --preset "$1"
}
run_preset release
(( sanitize )) && run_preset debug
exit 0
