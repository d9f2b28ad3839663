#!/usr/bin/env bash
# scripts/fuzz.sh — build the libFuzzer targets (clang 14, ASan + UBSan) and
# run each one for a while on its seed corpus (fuzz/corpus/<target>/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 30 s each, all targets
#   scripts/fuzz.sh 600 encode decode         10 minutes each for two targets
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_WORK_DIR (new corpus
# entries and crash files; default $FUZZ_BUILD_DIR/fuzz-work), FUZZ_JOBS (build
# parallelism, default 2), FUZZ_RSS_MB (per-process memory limit, default 2048),
# FUZZ_ARGS (extra libFuzzer flags). The seed corpus in the repository is only
# read. Targets run one after another under `nice -n 19`.
# Exit status 1 if any target found a crash, leak, timeout or sanitizer report;
# the reproducer is then in $FUZZ_WORK_DIR/<target>/crash-* (re-run it with
# `build-fuzz/fuzz/fuzz_<target> FILE`).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-30}"
[[ $# -gt 0 ]] && shift
all=(model_file safetensors hf_config sentencepiece tokenizer_json encode decode chat image)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
work="${FUZZ_WORK_DIR:-$build/fuzz-work}"
cxx="${FUZZ_CXX:-clang++-14}"
command -v "$cxx" >/dev/null || { echo "error: $cxx not found (apt-get install clang-14)" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release -DGEMMA3_WERROR=ON \
  -DGEMMA3_BUILD_FUZZERS=ON -DGEMMA3_BUILD_TESTS=OFF -DGEMMA3_BUILD_TOOLS=OFF \
  -DGEMMA3_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j "${FUZZ_JOBS:-2}" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

status=0
summary=""
for t in "${targets[@]}"; do
  exe="$build/fuzz/fuzz_$t"
  seeds="$root/fuzz/corpus/$t"
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  log="$work/$t/fuzz.log"
  echo "== fuzz_$t: ${secs}s" >&2
  rc=0
  # First corpus dir receives new inputs; the seed dir is only read.
  nice -n 19 "$exe" -max_total_time="$secs" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" ${FUZZ_ARGS:-} \
    "$work/$t/corpus" "$seeds" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  corp=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  if [[ $rc -ne 0 ]]; then
    status=1
    result="FAILED (exit $rc; see $log and $work/$t/artifacts/)"
    grep -E 'ERROR: |SUMMARY: |FUZZ_CHECK|threw' "$log" | head -5 >&2 || true
  else
    result="ok"
  fi
  summary+=$(printf '%-15s %10s execs  cov %-6s ft %-6s corpus %-6s %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")$'\n'
done
echo "---- fuzz summary (${secs}s per target) ----"
printf '%s' "$summary"
exit $status
