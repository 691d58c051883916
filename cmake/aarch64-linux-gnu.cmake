# Cross-compiling for arm64 Linux with Debian's GNU cross toolchain (g++-aarch64-linux-gnu), the
# programs run by qemu's user-mode emulator (qemu-user) with the arm64 libraries of the same
# Debian packages, so that ctest runs the tests on an x86-64 machine. Used by scripts/test_arm64.sh:
#   cmake -S . -B build/arm64 --toolchain cmake/aarch64-linux-gnu.cmake -DSOG_KERNELS_ONLY=ON
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries and headers of the target come from the cross toolchain's sysroot, never the host's.
set(SOG_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${SOG_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# How ctest (and gtest_discover_tests) run an arm64 program here: -L is where the emulated
# program's dynamic loader and shared libraries (libstdc++, libgomp) are.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${SOG_AARCH64_SYSROOT})
