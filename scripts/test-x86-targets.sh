#!/usr/bin/env bash
# scripts/test-x86-targets.sh [BUILD_DIR] — the test suite again with run-time
# dispatch capped below AVX-512 (GEMMA3_MAX_TARGET, gemma3/ops/targets.hpp):
# once at AVX2 (the AVX2 intrinsic kernels) and once at SSE4 (the portable
# Highway kernels, no intrinsics), as on CPUs without AVX-512 / without AVX2.
# Uses the Release build of scripts/test.sh (default: build).
#
# Left out of these runs: examples, install_consumer and test_link_two_units
# build or run example programs that do not read GEMMA3_MAX_TARGET; they ran
# at the CPU's best target in scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
case "$(uname -m)" in x86_64) ;; *) echo "test-x86-targets: not an x86-64 host, skipped"; exit 0 ;; esac
for target in AVX2 SSE4; do
  # The dispatched target is the cap unless the CPU lacks it (an older CPU).
  got="$(GEMMA3_MAX_TARGET=$target "$build/test_ops" -tc='dot*' | sed -n 's/^GEMMA3_MAX_TARGET=.*dispatch to //p')"
  echo "== test suite with GEMMA3_MAX_TARGET=$target (dispatch: $got)"
  GEMMA3_MAX_TARGET=$target ctest --test-dir "$build" --output-on-failure -j"$(nproc)" \
    -E '^(examples|install_consumer|test_link_two_units)$'
done
