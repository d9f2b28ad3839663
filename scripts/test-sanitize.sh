#!/usr/bin/env bash
# scripts/test-sanitize.sh — the whole test suite built with AddressSanitizer +
# UndefinedBehaviorSanitizer (-DGEMMA3_SANITIZE=ON, any error fatal), then each
# fuzz target for a short run on its seed corpus (scripts/fuzz.sh).
#
#   scripts/test-sanitize.sh                 ctest under ASan+UBSan, then 30 s per fuzz target
#
# Environment:
#   SANITIZE_BUILD_DIR   build directory (default build-sanitize)
#   SANITIZE_JOBS        build and ctest parallelism (default: nproc)
#   SANITIZE_EXCLUDE     ctest -E regex of tests to skip (default: none)
#   FUZZ_SECONDS         seconds per fuzz target (default 30; 0 skips fuzzing)
#   CXX                  compiler for the sanitizer build (default: the system c++)
#   SANITIZE_CXXFLAGS    extra compiler flags (default: none)
#   SANITIZE_HWY_DISABLED Highway targets left out (default: HWY_SSSE3|HWY_SSE4)
# Exit status: non-zero if any test or fuzz target fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SANITIZE_BUILD_DIR:-$root/build-sanitize}"
jobs="${SANITIZE_JOBS:-$(nproc)}"
fuzz_secs="${FUZZ_SECONDS:-30}"
t0=$(date +%s)

# Leaks are errors too; keep going after none of them.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# -O1 (what ASan recommends) and, to halve the build, only the AVX3 and AVX2
# Highway targets plus the scalar fallback: the Release build's test_ops
# already runs every kernel on every target; this build hunts memory and UB
# errors in the library's logic.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 ${SANITIZE_CXXFLAGS:-}" \
  -DGEMMA3_HWY_DISABLED_TARGETS="${SANITIZE_HWY_DISABLED:-HWY_SSSE3|HWY_SSE4}" \
  -DGEMMA3_SANITIZE=ON -DGEMMA3_WERROR=ON -DGEMMA3_BUILD_TESTS=ON -DGEMMA3_BUILD_TOOLS=ON -DGEMMA3_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "$jobs"
t1=$(date +%s)
exclude=()
[[ -n "${SANITIZE_EXCLUDE:-}" ]] && exclude=(-E "$SANITIZE_EXCLUDE")
ctest --test-dir "$build" --output-on-failure -j "$jobs" "${exclude[@]}"
t2=$(date +%s)
if [[ "$fuzz_secs" != 0 ]]; then
  "$root/scripts/fuzz.sh" "$fuzz_secs"
fi
t3=$(date +%s)
echo "test-sanitize: build $((t1 - t0)) s, ctest $((t2 - t1)) s, fuzz $((t3 - t2)) s, total $((t3 - t0)) s"
