#!/usr/bin/env bash
# scripts/check-format.sh — are the project's C++ files formatted as .clang-format says?
# clang-format 14 (Debian 12's clang-format-14, installed through scripts/install-deps.sh when
# missing) in --dry-run --Werror mode: nothing is rewritten. The first stage of .ci/run.
#
#   scripts/check-format.sh             every *.cpp/*.hpp/*.h/*.cc under gemma3/ tools/ tests/
#                                       bench/ examples/ fuzz/ (not tests/data/, fuzz/corpus/)
#   scripts/check-format.sh FILE...     only these files
#
# Exit status 1 with the list of files that need formatting; fix one with
# `clang-format-14 -i FILE`. Environment: CLANG_FORMAT (default clang-format-14).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cf="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$cf" >/dev/null; then
  if [[ "$cf" == clang-format-14 ]]; then
    bash scripts/install-deps.sh clang-format-14
  fi
  command -v "$cf" >/dev/null || { echo "error: $cf not found (apt-get install clang-format-14)" >&2; exit 2; }
fi

if (($#)); then
  files=("$@")
else
  mapfile -t files < <(find gemma3 tools tests bench examples fuzz \
    \( -path tests/data -o -path fuzz/corpus \) -prune -o \
    -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print | LC_ALL=C sort)
fi

bad=()
for f in "${files[@]}"; do
  if ! "$cf" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if ((${#bad[@]})); then
  echo "check-format: ${#bad[@]} of ${#files[@]} files need formatting ($("$cf" --version | head -1)):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix: $cf -i FILE   (see what would change: $cf FILE | diff FILE -)" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
