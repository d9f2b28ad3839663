#!/usr/bin/env bash
# scripts/dump-fixtures.sh BUILD_DIR OUT_DIR [FIXTURES_DIR] — a refactoring's "bits unchanged" check.
# Converts the tiny fixtures with BUILD_DIR's gemma3-convert (tiny-dev to f32/bf16/q8/q4, tiny-text-dev's
# two configs to f32/q8) and dumps, with BUILD_DIR's gemma3-dump, logits, hidden states, pixels, image
# embeddings (two images, prefill in chunks of 7) and greedy continuations. Run it with the build before
# and after a change, then: for f in A/*; do cmp "$f" "B/${f##*/}"; done   (no output: same bits).
set -euo pipefail
build=$1 out=$2 fx=${3:-$(cd "$(dirname "$0")/../.." && pwd)/shared/fixtures}
mkdir -p "$out"
convert() {  # its progress lines only when it fails
  "$build/gemma3-convert" "$1" "$2" --type "$3" >"$out/convert.log" 2>&1 || { cat "$out/convert.log" >&2; exit 1; }
  rm -f "$out/convert.log"
}
img=$(printf '960,%.0s' $(seq 16))  # one image block: mm_tokens_per_image = 16 image tokens
ids="2,10,6,900,${img}901,20,30,40,900,${img}901,50,60,5"
for t in f32 bf16 q8 q4; do
  convert "$fx/tiny-dev/model" "$out/m_$t.g3" "$t"
  "$build/gemma3-dump" -m "$out/m_$t.g3" --ids "$ids" \
    --image "$fx/tiny-dev/img0_photo_150x97.png" --image "$fx/tiny-dev/img1_pattern_64x64.png" \
    --logits "$out/logits_$t.npy" --hidden "$out/hidden_$t.npy" --pixels "$out/pix_$t.npy" \
    --image-embeddings "$out/emb_$t.npy" --generate 8 --chunk 7 --threads 2 >"$out/gen_$t.txt"
done
for m in model model_layer_types; do
  for t in f32 q8; do
    convert "$fx/tiny-text-dev/$m" "$out/t_${m}_$t.g3" "$t"
    "$build/gemma3-dump" -m "$out/t_${m}_$t.g3" --ids 2,10,20,30,40,50,60,70,80,90,100 \
      --logits "$out/tl_${m}_$t.npy" --hidden "$out/th_${m}_$t.npy" --generate 5 --chunk 3 \
      >"$out/tg_${m}_$t.txt"
  done
done
echo "dump-fixtures: $(ls "$out" | wc -l) files in $out"
