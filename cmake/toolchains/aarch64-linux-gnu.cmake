# Cross-compiling gemma3 for 64-bit Arm on Debian 12 (x86-64 host), with the
# arm64 packages installed through multiarch and the programs run under
# qemu-user (scripts/test-arm64.sh does all of it).
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install g++-aarch64-linux-gnu qemu-user \
#     libhwy-dev:arm64 libjpeg62-turbo-dev:arm64 libstb-dev:arm64 libgomp1:arm64
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch: libraries and CMake packages under /usr/lib/aarch64-linux-gnu,
# headers shared in /usr/include.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# ctest runs each test through this; the tests put it before the tools they
# start (GEMMA3_TEST_EMULATOR). The CPU model comes from QEMU_CPU at run time.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
# pkg-config must not find the host's (x86-64) libraries.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
