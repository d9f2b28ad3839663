#!/usr/bin/env bash
# Fresh Debian 12 machine, as root: install what is missing, build, run the
# whole test suite (ctest). This is the README's test command; .ci/run calls it.
# GEMMA3_WERROR=ON: a warning in our own programs fails the build (never imposed on consumers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGEMMA3_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
