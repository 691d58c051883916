#!/usr/bin/env bash
# The test command: installs what is missing, fetches the data, configures, builds everything
# (the CUDA code too when nvcc is present) and runs every test with ctest.
#
#   scripts/test.sh              # Release build (build/release), all tests
#   scripts/test.sh --sanitize   # also the Debug build with AddressSanitizer + UBSan (build/debug)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sanitize=0
[[ "${1:-}" == "--sanitize" ]] && sanitize=1

scripts/setup.sh
scripts/get_data.sh --partial   # tests that need a missing file skip themselves and say why
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

run_preset() {
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1"
  ctest --preset "$1"
}
run_preset release
(( sanitize )) && run_preset debug
exit 0
