#!/usr/bin/env bash
# The test command: installs what is missing, fetches the data, configures, builds everything
# (the CUDA code too when nvcc is present) and runs every test with ctest — once per CPU
# instruction set this machine runs — and the arm64 kernel tests under emulation.
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

scripts/setup.sh --test
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
# The CPU kernels are chosen at run time (common/cpu/isa.h): the suite once more on every other
# instruction set this CPU runs (on an AVX-512 machine: avx2, then generic), so that each one is
# tested wherever it can run, and a build made here is known to work on the CPUs that lack the rest.
others="$(build/release/bin/pretrain cpu | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(reversed([isa for isa in d["runnable"] if isa != d["active"]])))')"
for isa in $others; do
  echo "==== the tests again with SOG_CPU=$isa ===="
  SOG_CPU="$isa" ctest --preset release
done
# arm64 (NEON and plain C++): the kernel and op tests cross-compiled and run under emulation, when
# the cross toolchain and qemu are installed (scripts/setup.sh --test installs them).
scripts/test_arm64.sh --if-available
(( sanitize )) && run_preset debug
exit 0
