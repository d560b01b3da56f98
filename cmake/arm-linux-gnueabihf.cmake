# CMake toolchain file: cross-compile sensorbridge for 32-bit ARM Linux,
# Debian's armhf (ARMv7-A, VFPv3-D16, Thumb-2: Raspberry Pi 2 and later
# with a 32-bit OS; not the ARMv6 Pi 1 and first Zero) on a Debian x86_64
# host, with the cross compiler from crossbuild-essential-armhf and the
# :armhf library packages (Debian multiarch;
# cmake/debian-multiarch-cross.cmake has the details).
#
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/arm-linux-gnueabihf.cmake
#
# scripts/cross-armhf installs all of that and uses this file. Tests run
# under qemu-user (qemu-arm-static) through CMAKE_CROSSCOMPILING_EMULATOR, so
# `ctest -R '^unit$'` runs the armhf unit tests on the host.

set(CMAKE_SYSTEM_PROCESSOR arm)
set(SB_CROSS_TRIPLET arm-linux-gnueabihf)
set(SB_QEMU qemu-arm)
set(SB_QEMU_LOADER /lib/ld-linux-armhf.so.3)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch-cross.cmake)
