# CMake toolchain file: cross-compile sensorbridge for 64-bit ARM Linux
# (Raspberry Pi 3/4/5 with a 64-bit OS) on a Debian x86_64 host, using Debian
# multiarch: the cross compiler from crossbuild-essential-arm64 and the
# libraries as :arm64 packages (libpaho-mqtt-dev:arm64, libssl-dev:arm64, ...),
# which install into /usr/lib/aarch64-linux-gnu and /usr/include.
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# scripts/cross-arm64 installs all of that and uses this file. Tests run under
# qemu-user (qemu-user-static) through CMAKE_CROSSCOMPILING_EMULATOR, so
# `ctest -R '^unit$'` runs the arm64 unit tests on the host.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(SB_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${SB_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${SB_CROSS_TRIPLET}-g++)

# Multiarch: libraries, pkg-config files and CMake package configurations of
# the target live under /usr/lib/aarch64-linux-gnu, headers in /usr/include
# (shared with the host). The root path is therefore "/" (the Debian cross
# libc in /usr/aarch64-linux-gnu is found by the compiler itself), and what
# keeps the host's x86_64 libraries out is the library architecture: CMake
# searches <prefix>/lib/aarch64-linux-gnu, never <prefix>/lib/x86_64-linux-gnu.
# That is also how find_package(eclipse-paho-mqtt-c) and find_package(OpenSSL)
# find /usr/lib/aarch64-linux-gnu/cmake/eclipse-paho-mqtt-c and
# /usr/lib/aarch64-linux-gnu/libssl.so.
set(CMAKE_LIBRARY_ARCHITECTURE ${SB_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH /)
# Programs (pkg-config, python3, qemu) are the host's; everything else the target's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: only the target's .pc files. Debian's pkgconf:arm64 provides
# aarch64-linux-gnu-pkg-config (a cross personality that does exactly this);
# with the plain pkg-config, PKG_CONFIG_LIBDIR does it. Set both: the
# environment also reaches pkg-config when the wrapper is not installed.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SB_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
if(NOT PKG_CONFIG_EXECUTABLE AND EXISTS /usr/bin/${SB_CROSS_TRIPLET}-pkg-config)
  set(PKG_CONFIG_EXECUTABLE /usr/bin/${SB_CROSS_TRIPLET}-pkg-config CACHE FILEPATH "pkg-config for ${SB_CROSS_TRIPLET}")
endif()

# Run target programs (ctest, try_run) under qemu-user. With libc6:arm64
# installed (multiarch; the :arm64 -dev packages pull it in) the dynamic
# loader /lib/ld-linux-aarch64.so.1 and every library are where an arm64
# system has them, so the qemu root is "/". Without it, fall back to the
# cross libc in /usr/aarch64-linux-gnu.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(SB_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
  if(SB_QEMU_AARCH64)
    if(EXISTS /lib/ld-linux-aarch64.so.1)
      set(CMAKE_CROSSCOMPILING_EMULATOR "${SB_QEMU_AARCH64};-L;/")
    else()
      set(CMAKE_CROSSCOMPILING_EMULATOR "${SB_QEMU_AARCH64};-L;/usr/${SB_CROSS_TRIPLET}")
    endif()
  endif()
endif()
