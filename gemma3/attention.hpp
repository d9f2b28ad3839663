// gemma3/attention.hpp — which keys a query sees (spec §3.4, §5.3), and
// grouped-query attention of a chunk of queries over the KV cache.
//
// The mask, for query position i and key position j:
//   allowed(i, j) = (j ≤ i  OR  i and j are image tokens of the same image)
//                   AND (global layer  OR  |i − j| < sliding_window)
// i.e. causal, plus bidirectional inside one image block on local AND global
// layers; local layers additionally see only the last sliding_window
// positions (a query sees itself and the previous window − 1 tokens). The
// window is intersected with the image term as in the JAX reference (spec §5.3;
// identical to HF's composition whenever an image block is no longer than the
// window, which holds for Gemma 3: 256 < 1024).
//
// For every query the allowed keys form ONE contiguous range [lo, hi]
// (an image block is a contiguous run), so no mask matrix is ever built
// except by build_attention_mask(), which exists for tests and documentation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "gemma3/error.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/ops/softmax.hpp"
#include "gemma3/ops/threading.hpp"
#include "gemma3/ops/vector.hpp"
#include "gemma3/tensor.hpp"

namespace gemma3 {

// A block of consecutive image soft tokens that see each other (spec §5.3).
struct ImageBlock {
  size_t start = 0, count = 0;  // positions [start, start + count)
};

// Image blocks of a token sequence from HF's token_type_ids (1 = image soft
// token): every maximal run of 1s is one block.
inline std::vector<ImageBlock> image_blocks_from_token_types(const std::vector<int>& types) {
  std::vector<ImageBlock> out;
  for (size_t t = 0; t < types.size(); ++t) {
    if (types[t] != 1) continue;
    if (t == 0 || types[t - 1] != 1) out.push_back({t, 0});
    out.back().count++;
  }
  return out;
}

// The keys query position i may attend to: [lo, hi] (inclusive).
// block: the image block holding i, or nullptr.
struct KeyRange {
  size_t lo = 0, hi = 0;
};

inline KeyRange key_range(size_t i, const ImageBlock* block, bool global, size_t window) {
  KeyRange r;
  r.hi = i;  // causal, self included
  if (block && block->count > 0) r.hi = std::max(r.hi, block->start + block->count - 1);
  if (!global) {  // spec §3.4: allowed iff |i − j| < window
    r.lo = i + 1 > window ? i + 1 - window : 0;
    r.hi = std::min(r.hi, i + window - 1);
  }
  return r;
}

// The full [n, n] mask (1 = may attend) for a sequence with these image
// blocks: the same rule the decoder applies, as a matrix (tests, docs).
inline std::vector<uint8_t> build_attention_mask(size_t n, const std::vector<ImageBlock>& blocks,
                                                 bool global, size_t window) {
  std::vector<uint8_t> m(n * n, 0);
  for (size_t i = 0; i < n; ++i) {
    const ImageBlock* b = nullptr;
    for (const ImageBlock& x : blocks)
      if (i >= x.start && i < x.start + x.count) b = &x;
    const KeyRange r = key_range(i, b, global, window);
    for (size_t j = r.lo; j <= r.hi && j < n; ++j) m[i * n + j] = 1;
  }
  return m;
}

// ---- grouped-query attention over the cache --------------------------------

struct AttentionParams {
  size_t num_heads = 0;     // query heads (Nq)
  size_t num_kv_heads = 0;  // key/value heads (Nkv); query head h uses kv head h / (Nq/Nkv)
  size_t head_dim = 0;
  float scale = 1.0f;    // query_pre_attn_scalar^-0.5 (spec §3.4)
  float softcap = 0.0f;  // attn_logit_softcapping; 0 = none
  bool global = true;    // false: sliding-window layer
  size_t window = 0;     // sliding_window
};

namespace detail {

// Row of position pos in layer l of an f32 (C = float) or bf16 (uint16_t) cache.
template <typename C>
const C* cache_k(const KVCache& c, size_t l, size_t pos) {
  if constexpr (std::is_same<C, float>::value) return c.k_f32(l, pos);
  else return c.k_bf16(l, pos);
}
template <typename C>
const C* cache_v(const KVCache& c, size_t l, size_t pos) {
  if constexpr (std::is_same<C, float>::value) return c.v_f32(l, pos);
  else return c.v_bf16(l, pos);
}

// One query row of head h over keys kr. scores: scratch ≥ hi − lo + 1 floats,
// tmp: scratch of head_dim floats.
template <typename C>
void attend_one(const AttentionParams& p, const KVCache& cache, size_t layer, const float* q,
                const float* k_new, const float* v_new, size_t p0, KeyRange kr, size_t h,
                float* scores, float* tmp, float* out, float* probs_row) {
  const size_t D = p.head_dim;
  const size_t g = h / (p.num_heads / p.num_kv_heads);  // spec §3.4 GQA grouping
  const size_t stride = p.num_kv_heads * D;             // cache rows and chunk rows alike
  const size_t nk = kr.hi - kr.lo + 1;
  // Cached keys [lo, min(hi, p0 − 1)] as ≤ 2 contiguous runs (a ring buffer
  // wraps at most once inside a window), then this chunk's keys (f32).
  struct Run {
    const C* k;
    const C* v;
    size_t count;
  } cseg[2];
  size_t ncs = 0;
  if (kr.lo < p0) {
    const size_t last = std::min(kr.hi, p0 - 1), slots = cache.slots(layer);
    for (size_t j = kr.lo; j <= last; ncs++) {
      const size_t count = std::min(last - j + 1, slots - j % slots);  // up to the ring's end
      cseg[ncs] = {cache_k<C>(cache, layer, j) + g * D, cache_v<C>(cache, layer, j) + g * D, count};
      j += count;
    }
  }
  const size_t first_new = std::max(kr.lo, p0);
  const size_t n_new = kr.hi >= first_new ? kr.hi - first_new + 1 : 0;
  const float* knew = k_new + (first_new - p0) * stride + g * D;
  const float* vnew = v_new + (first_new - p0) * stride + g * D;

  // Scores s_j = (q · k_j) · scale, optionally soft-capped (spec §3.4).
  size_t t = 0;
  for (size_t i = 0; i < ncs; ++i) {
    ops::dot_rows(q, cseg[i].k, stride, cseg[i].count, D, scores + t);
    t += cseg[i].count;
  }
  if (n_new) ops::dot_rows(q, knew, stride, n_new, D, scores + t);
  ops::scale(p.scale, scores, nk);
  if (p.softcap > 0.0f)
    for (size_t j = 0; j < nk; ++j) scores[j] = std::tanh(scores[j] / p.softcap) * p.softcap;
  ops::softmax(scores, nk);  // f32, max-subtracted

  // out = Σ_j p_j · v_j, segment by segment.
  t = 0;
  bool first = true;
  auto accumulate = [&](const auto* v, size_t count) {
    ops::weighted_sum(scores + t, v, stride, count, D, first ? out : tmp);
    if (!first) ops::add_into(tmp, out, D);
    first = false;
    t += count;
  };
  for (size_t i = 0; i < ncs; ++i) accumulate(cseg[i].v, cseg[i].count);
  if (n_new) accumulate(vnew, n_new);
  if (probs_row) std::copy(scores, scores + nk, probs_row + kr.lo);
}

}  // namespace detail

// Attention of n query rows at positions p0 … p0+n−1.
//   q      [n, Nq·D]   queries after q_norm and RoPE
//   k_new  [n, Nkv·D]  this chunk's keys (after k_norm, RoPE) — already rounded
//   v_new  [n, Nkv·D]  to the cache type; positions < p0 are read from `cache`
//   blocks image blocks in chunk-relative rows (each lies inside the chunk)
//   out    [n, Nq·D]   heads concatenated (HF's attn_output before o_proj)
//   probs  optional [Nq, n, p0+n]: the probabilities (0 where masked), for
//          observers; must be zero-filled by the caller.
//   buf    optional scratch reused between calls (threads · (p0+n+D) floats;
//          allocated here when null).
inline void attention(const AttentionParams& p, const KVCache& cache, size_t layer, const float* q,
                      const float* k_new, const float* v_new, size_t n, size_t p0,
                      const std::vector<ImageBlock>& blocks, float* out, float* probs,
                      const ops::ThreadContext& ctx, std::vector<float>* buf = nullptr) {
  if (p.num_kv_heads == 0 || p.num_heads % p.num_kv_heads != 0)
    throw Error("attention: num_attention_heads (" + std::to_string(p.num_heads) +
                ") is not a multiple of num_key_value_heads (" + std::to_string(p.num_kv_heads) +
                ")");
  if (!p.global && p.window == 0) throw Error("attention: sliding_window is 0");
  const size_t total = p0 + n;
  std::vector<KeyRange> ranges(n);
  for (size_t r = 0; r < n; ++r) {
    const ImageBlock* b = nullptr;
    ImageBlock abs;
    for (const ImageBlock& x : blocks)
      if (r >= x.start && r < x.start + x.count) {
        abs = {p0 + x.start, x.count};
        b = &abs;
      }
    ranges[r] = key_range(p0 + r, b, p.global, p.window);
  }
  // One task per (row, head); each thread owns one scratch buffer.
  const size_t items = n * p.num_heads;
  // Work: each (row, head) scores and sums over at most `total` keys.
  const size_t work = items * total * 2 * p.head_dim;
  const size_t threads = size_t(ops::effective_threads(ctx, items, work));
  std::vector<float> local;
  std::vector<float>& scratch = buf ? *buf : local;
  if (scratch.size() < threads * (total + p.head_dim))
    scratch.resize(threads * (total + p.head_dim));
  const bool f32 = cache.type() == KVType::F32;
  ops::parallel_for(
      items, ctx,
      [&](size_t it, int thread) {
        float* scores = scratch.data() + size_t(thread) * (total + p.head_dim);
        float* tmp = scores + total;
        const size_t r = it / p.num_heads, h = it % p.num_heads;
        const float* qr = q + (r * p.num_heads + h) * p.head_dim;
        float* o = out + (r * p.num_heads + h) * p.head_dim;
        float* pr = probs ? probs + (h * n + r) * total : nullptr;
        if (f32)
          detail::attend_one<float>(p, cache, layer, qr, k_new, v_new, p0, ranges[r], h, scores,
                                    tmp, o, pr);
        else
          detail::attend_one<uint16_t>(p, cache, layer, qr, k_new, v_new, p0, ranges[r], h, scores,
                                       tmp, o, pr);
      },
      work);
}

}  // namespace gemma3
