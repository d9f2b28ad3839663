#!/usr/bin/env bash
# scripts/test-arm64.sh — the test suite on 64-bit Arm, cross-compiled with
# Debian 12's aarch64 toolchain and run under qemu-user, four times:
#   NEON only          QEMU_CPU=max,sve=off
#   SVE, 128-bit       QEMU_CPU=max,sve-max-vq=1   (Highway: SVE2_128, SVE2, SVE, NEON)
#   SVE, 256-bit       QEMU_CPU=max,sve-max-vq=2   (Highway: SVE_256, SVE2, SVE, NEON)
#   SVE, 512-bit       QEMU_CPU=max,sve-max-vq=4   (Highway: SVE2, SVE, NEON)
# Every doctest executable runs in each: test_ops/test_quant run every kernel
# on every target Highway reports there, with 1–3 threads bit-identical; the
# decoder, vision, tokenizer and multimodal goldens with the x86 tolerances.
# Not run: install_consumer (it would build a consumer with the host compiler)
# and the examples (not built here).
#
# Environment: ARM64_BUILD_DIR (default build-arm64), ARM64_CPUS (the QEMU_CPU
# values, ';'-separated, default the four above).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ARM64_BUILD_DIR:-$root/build-arm64}"
t0=$(date +%s)

# Cross toolchain, qemu and the arm64 libraries through multiarch (as root).
bash "$root/scripts/install-deps.sh" g++-aarch64-linux-gnu qemu-user libhwy-dev:arm64 libjpeg62-turbo-dev:arm64 \
  libstb-dev:arm64 libgomp1:arm64 doctest-dev cmake make

cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DGEMMA3_BUILD_EXAMPLES=OFF -DGEMMA3_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
t1=$(date +%s)

IFS=';' read -r -a cpus <<< "${ARM64_CPUS:-max,sve=off;max,sve-max-vq=1;max,sve-max-vq=2;max,sve-max-vq=4}"
for cpu in "${cpus[@]}"; do
  echo "== aarch64 under qemu, QEMU_CPU=$cpu"
  # What Highway sees on this CPU model, and every kernel on every target it reports.
  QEMU_CPU="$cpu" qemu-aarch64 "$build/test_ops" -tc='limit_targets*' | grep '^limit_targets'
  QEMU_CPU="$cpu" ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -E '^install_consumer$'
done
t2=$(date +%s)
echo "test-arm64: build $((t1 - t0)) s, tests $((t2 - t1)) s"
