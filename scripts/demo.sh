#!/usr/bin/env bash
# Fresh Debian 12 machine, as root: install what is missing, build the tools,
# convert the bundled TINY RANDOM checkpoint and generate from a prompt.
# The tiny model has random weights: its text is gibberish by design; the run
# shows the whole pipeline (convert -> load -> chat prompt -> generate -> speed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target gemma3-convert gemma3-run
./build/gemma3-convert tests/data/tiny/model build/tiny-random.gemma3 --type bf16
./build/gemma3-run -m build/tiny-random.gemma3 -p "Why is the sky blue?" -n 32 --seed 1
