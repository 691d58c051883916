#!/usr/bin/env bash
# Prepares, on a machine that has the project's build dependencies installed (scripts/setup.sh),
# a relocatable prefix of the ones a bare GPU machine may lack, for scripts/gpu_verify.sh to use
# there: GoogleTest, Google Benchmark, nlohmann-json, CLI11, utf8proc and pkgconf (headers,
# libraries, CMake package files, a pkg-config file that finds itself through ${pcfiledir}).
# OpenBLAS is left out (36 MB): it is only the CPU benchmarks' baseline, which the GPU run does
# not build.
#
#   scripts/gpu_prepare.sh [PREFIX]      (default: build/gpu_deps, ignored by git like all of build/)
#
# Copy PREFIX to the GPU machine with the source tree (about 4 MB) and point gpu_verify.sh at it
# with SOG_GPU_DEPS=PREFIX (its default is the same path).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-build/gpu_deps}"
arch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
sys_lib="/usr/lib/$arch"

rm -rf "$prefix"
mkdir -p "$prefix/usr/include" "$prefix/usr/lib/$arch/cmake" "$prefix/usr/lib/$arch/pkgconfig" \
  "$prefix/usr/share/cmake" "$prefix/usr/bin"

copy() {  # copy SRC... DESTDIR, failing loudly on a missing source
  local dest="${*: -1}"
  for src in "${@:1:$#-1}"; do
    [ -e "$src" ] || { echo "gpu_prepare: missing $src (install the build dependencies first)" >&2; exit 1; }
    cp -a "$src" "$dest/"
  done
}

# headers
copy /usr/include/gtest /usr/include/gmock /usr/include/benchmark /usr/include/nlohmann /usr/include/CLI \
  /usr/include/utf8proc.h "$prefix/usr/include"
# libraries (the .so symlink chains are copied as they are)
copy "$sys_lib"/libgtest.a "$sys_lib"/libgtest_main.a "$sys_lib"/libgmock.a "$sys_lib"/libgmock_main.a \
  "$prefix/usr/lib/$arch"
copy "$sys_lib"/libbenchmark.so* "$sys_lib"/libbenchmark_main.a "$sys_lib"/libutf8proc.so* \
  "$sys_lib"/libpkgconf.so.3* "$prefix/usr/lib/$arch"
# CMake package files (their import prefixes are computed from their own location: relocatable)
copy "$sys_lib/cmake/GTest" "$sys_lib/cmake/benchmark" "$prefix/usr/lib/$arch/cmake"
copy /usr/share/cmake/CLI11 /usr/share/cmake/nlohmann_json "$prefix/usr/share/cmake"
# pkg-config: the binary, and utf8proc's file with its prefix made relative to itself
copy /usr/bin/pkgconf "$prefix/usr/bin"
sed 's|^prefix=.*|prefix=${pcfiledir}/../../..|' "$sys_lib/pkgconfig/libutf8proc.pc" \
  >"$prefix/usr/lib/$arch/pkgconfig/libutf8proc.pc"

du -sh "$prefix"
echo "gpu_prepare: wrote $prefix"
