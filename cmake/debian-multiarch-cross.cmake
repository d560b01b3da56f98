# The body of the cross toolchain files (cmake/aarch64-linux-gnu.cmake,
# cmake/arm-linux-gnueabihf.cmake): cross-compile sensorbridge for an ARM
# Linux target on a Debian x86_64 host, using Debian multiarch: the cross
# compiler from crossbuild-essential-<arch> and the libraries as :<arch>
# packages (libpaho-mqtt-dev:armhf, libssl-dev:armhf, ...), which install into
# /usr/lib/<triplet> and /usr/include.
#
# The including file sets, before include():
#   CMAKE_SYSTEM_PROCESSOR   aarch64, arm
#   SB_CROSS_TRIPLET         aarch64-linux-gnu, arm-linux-gnueabihf
#   SB_QEMU                  the qemu-user program: qemu-aarch64, qemu-arm
#   SB_QEMU_LOADER           the target's dynamic loader, as a target system
#                            has it: /lib/ld-linux-aarch64.so.1, ...

set(CMAKE_SYSTEM_NAME Linux)

set(CMAKE_C_COMPILER ${SB_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${SB_CROSS_TRIPLET}-g++)

# Multiarch: libraries, pkg-config files and CMake package configurations of
# the target live under /usr/lib/<triplet>, headers in /usr/include (shared
# with the host). The root path is therefore "/" (the Debian cross libc in
# /usr/<triplet> is found by the compiler itself), and what keeps the host's
# x86_64 libraries out is the library architecture: CMake searches
# <prefix>/lib/<triplet>, never <prefix>/lib/x86_64-linux-gnu. That is also
# how find_package(eclipse-paho-mqtt-c) and find_package(OpenSSL) find
# /usr/lib/<triplet>/cmake/eclipse-paho-mqtt-c and /usr/lib/<triplet>/libssl.so.
set(CMAKE_LIBRARY_ARCHITECTURE ${SB_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH /)
# Programs (pkg-config, python3, qemu) are the host's; everything else the target's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: only the target's .pc files. Debian's pkgconf:<arch> provides
# <triplet>-pkg-config (a cross personality that does exactly this); with
# the plain pkg-config, PKG_CONFIG_LIBDIR does it. Set both: the environment
# also reaches pkg-config when the wrapper is not installed.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SB_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
if(NOT PKG_CONFIG_EXECUTABLE AND EXISTS /usr/bin/${SB_CROSS_TRIPLET}-pkg-config)
  set(PKG_CONFIG_EXECUTABLE /usr/bin/${SB_CROSS_TRIPLET}-pkg-config CACHE FILEPATH "pkg-config for ${SB_CROSS_TRIPLET}")
endif()

# Run target programs (ctest, try_run) under qemu-user. With libc6:<arch>
# installed (multiarch; the :<arch> -dev packages pull it in) the dynamic
# loader and every library are where a target system has them, so the qemu
# root is "/". Without it, fall back to the cross libc in /usr/<triplet>.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(SB_QEMU_PROGRAM NAMES ${SB_QEMU}-static ${SB_QEMU})
  if(SB_QEMU_PROGRAM)
    if(EXISTS ${SB_QEMU_LOADER})
      set(CMAKE_CROSSCOMPILING_EMULATOR "${SB_QEMU_PROGRAM};-L;/")
    else()
      set(CMAKE_CROSSCOMPILING_EMULATOR "${SB_QEMU_PROGRAM};-L;/usr/${SB_CROSS_TRIPLET}")
    endif()
  endif()
endif()
