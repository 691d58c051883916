#!/usr/bin/env bash
# The arm64 build of the CPU kernels, tested on an x86-64 machine: cross-compiles the kernels-only
# build (SOG_KERNELS_ONLY: common/{cpu,tensor,autograd,ops,optim} and their GoogleTest units; no
# chapters, no CUDA) for aarch64-linux-gnu into build/arm64, then runs every test case under
# qemu-aarch64 with ctest twice: with the NEON kernels (SOG_CPU=neon: matmul_neon.cpp's 8×12
# micro-kernel and packing, the *_simd.cpp loops compiled for arm64) and with the plain C++ ones
# (SOG_CPU=generic).
#
#   scripts/test_arm64.sh                  # fails when the cross compiler or qemu is missing
#   scripts/test_arm64.sh --if-available   # says what is missing and exits 0 instead
#
# What it checks: that the arm64 code compiles and computes the right numbers (the same tests,
# tolerances and float64 references as the x86-64 build), under emulation. What it does not check:
# speed (qemu translates every instruction; timings mean nothing here, and the NEON blocking is
# chosen from cache sizes, not measured), behaviour particular to real arm64 hardware (its memory
# ordering between threads, denormal handling set by the OS), and anything outside the kernels-only
# build (tokenizer, data, checkpoints, chapter programs). No test case is filtered out: all 143
# run in under a minute per instruction set under qemu on two cores (the whole script, build
# included, about 3.5 minutes from an empty build/arm64).
#
# Needs (Debian): g++-aarch64-linux-gnu (with libgomp for arm64), qemu-user, googletest (sources
# in /usr/src/googletest), cmake.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if_available=0
for arg in "$@"; do
  case "$arg" in
    --if-available) if_available=1 ;;
    *) echo "test_arm64: unknown argument '$arg' (usage: scripts/test_arm64.sh [--if-available])" >&2; exit 2 ;;
  esac
done

sysroot=/usr/aarch64-linux-gnu
missing=()
for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ qemu-aarch64 cmake ctest; do
  command -v "$tool" >/dev/null || missing+=("$tool (not on PATH)")
done
[[ -d "$sysroot/lib" ]] || missing+=("$sysroot/lib (the arm64 C and C++ libraries qemu loads)")
[[ -f /usr/src/googletest/CMakeLists.txt ]] || missing+=("/usr/src/googletest (GoogleTest sources)")
if ((${#missing[@]})); then
  echo "test_arm64: cannot cross-build and emulate arm64 here; missing:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  echo "test_arm64: hint: apt-get install g++-aarch64-linux-gnu qemu-user googletest cmake" >&2
  if ((if_available)); then
    echo "test_arm64: skipped (--if-available)" >&2
    exit 0
  fi
  exit 1
fi

build=build/arm64
start_s=$SECONDS
mkdir -p "$build"
echo "== configure $build (Release, aarch64-linux-gnu, SOG_KERNELS_ONLY=ON)"
cmake -S . -B "$build" --toolchain cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DSOG_KERNELS_ONLY=ON >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
echo "== build (-j2)"
cmake --build "$build" --parallel 2 >"$build/build.log" 2>&1 || { tail -n 60 "$build/build.log" >&2; exit 1; }
echo "   test units: $(cd "$build/tests" && find . -maxdepth 1 -type f -name 'test_*' -executable | sed 's|^\./||' | sort | tr '\n' ' ')"
echo "   built in $((SECONDS - start_s)) s"

failed=()
for isa in neon generic; do
  log="$build/ctest_$isa.log"
  echo "== SOG_CPU=$isa: ctest under qemu-aarch64 (every line in $log)"
  rc=0
  SOG_CPU=$isa ctest --test-dir "$build" --parallel 2 --output-on-failure >"$log" 2>&1 || rc=$?
  # Which tests ran: the test cases per GoogleTest suite ("AllVariants/MatmulVariantTest.X/3_packed"
  # counts for AllVariants/MatmulVariantTest).
  echo "   cases per suite:"
  sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ .]+)\..*/\1/p' "$log" | sort | uniq -c |
    awk '{printf "%s %s\n", $2, $1}' | paste -sd ' ' | fold -s -w 100 | sed 's/^/     /'
  # The summary: from ctest's "N% tests passed" to the end (skipped and failed cases are named there).
  sed -n '/tests passed, /,$p' "$log" | sed '/^$/d'
  if ((rc)); then
    echo "   (the failing cases' output is in $log)"
    failed+=("$isa")
  fi
done

echo "== $((SECONDS - start_s)) s in all"
if ((${#failed[@]})); then
  echo "test_arm64: FAILED with SOG_CPU=${failed[*]}" >&2
  exit 1
fi
echo "test_arm64: all tests passed with SOG_CPU=neon and SOG_CPU=generic"
