#!/usr/bin/env bash
# scripts/test-big-endian.sh — what a big-endian host does with gemma3's
# little-endian files, tested on one: tests/big_endian/big_endian_test.cpp is
# cross-compiled for s390x (big-endian) with Debian's g++-s390x-linux-gnu, run
# under qemu-s390x (user-mode emulation), and the same program is built and run
# natively for the little-endian side.
#
#   scripts/test-big-endian.sh [NATIVE_BUILD_DIR]   (default: build; needs its gemma3-convert)
#
# On s390x the model file reader and writer, the safetensors reader (so the
# converter) and the .npy writer must refuse with "<file>: big-endian hosts are
# not supported (the format is little-endian)" and leave no file behind; the
# SentencePiece tokenizer.model reader is endian-neutral and must encode the
# golden corpus to the reference ids. Natively the same calls must succeed.
# Installs g++-s390x-linux-gnu and qemu-user if missing (Debian 12, as root).
#
# Environment:
#   BIG_ENDIAN_BUILD_DIR  where the two test binaries and the model file go (default build-big-endian)
# Exit status: non-zero if either run has a failed check.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
native_build="${1:-$root/build}"
native_build="$(cd "$native_build" && pwd)"
out="${BIG_ENDIAN_BUILD_DIR:-$root/build-big-endian}"
t0=$(date +%s)

bash "$root/scripts/install-deps.sh" g++-s390x-linux-gnu qemu-user

convert="$native_build/gemma3-convert"
if [[ ! -x "$convert" ]]; then
  echo "error: $convert not found; build the native tree first (scripts/test.sh)" >&2
  exit 2
fi
mkdir -p "$out"
cd "$root"

# The model file, written by the little-endian converter.
model="$out/tiny_f32.g3"
if ! "$convert" tests/data/tiny/model "$model" --type f32 2>"$out/convert.log"; then
  cat "$out/convert.log" >&2
  exit 1
fi

# Only headers without Highway/libjpeg/stb, so a bare cross compiler builds it;
# -static: no s390x sysroot needed at run time.
flags=(-std=c++17 -O1 -Wall -Wextra -Werror -I. "-DGEMMA3_TEST_DATA_DIR=\"$root/tests/data\"")
src=tests/big_endian/big_endian_test.cpp
echo "== s390x (big-endian), under qemu-s390x"
s390x-linux-gnu-g++ "${flags[@]}" -static "$src" -o "$out/big_endian_test.s390x"
be=0
qemu-s390x "$out/big_endian_test.s390x" "$model" || be=$?
echo "== native ($(uname -m), little-endian)"
g++ "${flags[@]}" "$src" -o "$out/big_endian_test.native"
le=0
"$out/big_endian_test.native" "$model" || le=$?

echo "big-endian run: exit $be; little-endian run: exit $le ($(($(date +%s) - t0)) s)"
((be == 0 && le == 0))
