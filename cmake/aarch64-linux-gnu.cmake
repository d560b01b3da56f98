# CMake toolchain file: cross-compile sensorbridge for 64-bit ARM Linux
# (Raspberry Pi 3/4/5 with a 64-bit OS) on a Debian x86_64 host, with the
# cross compiler from crossbuild-essential-arm64 and the :arm64 library
# packages (Debian multiarch; cmake/debian-multiarch-cross.cmake has the
# details).
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# scripts/cross-arm64 installs all of that and uses this file. Tests run under
# qemu-user (qemu-user-static) through CMAKE_CROSSCOMPILING_EMULATOR, so
# `ctest -R '^unit$'` runs the arm64 unit tests on the host.

set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SB_CROSS_TRIPLET aarch64-linux-gnu)
set(SB_QEMU qemu-aarch64)
set(SB_QEMU_LOADER /lib/ld-linux-aarch64.so.1)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch-cross.cmake)
