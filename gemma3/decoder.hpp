// gemma3/decoder.hpp — THE Gemma 3 text decoder: token ids (plus optional
// image embeddings) in, logits out (spec §3).
//
// One function, Decoder::forward(), runs a chunk of n ≥ 1 tokens at the next
// positions of a KV cache: n > 1 is prefill (matrix–matrix kernels), n = 1 is
// decode (matrix–vector) — the same code, the kernel choice is made in
// linear(). Read it top to bottom to follow one token from embedding to
// logits:
//
//   x = embed_tokens[id] · bf16(√H)            (image rows: inserted unscaled)
//   for each layer:
//     a = RMSNorm(x) → q, k, v → per-head RMSNorm(q), RMSNorm(k) → RoPE(q, k)
//     a = attention(q, k, v | cache) · W_oᵀ → RMSNorm → x += a
//     m = RMSNorm(x) → (GELU_tanh(m·W_gateᵀ) ⊙ m·W_upᵀ)·W_downᵀ → RMSNorm → x += m
//   logits = RMSNorm(x) · embed_tokensᵀ        (tied LM head)
//
// Every RMSNorm is Gemma's: x / sqrt(mean(x²) + eps) · (1 + w)  (spec §3.2).
//
// Observing: an optional callback receives every named intermediate, with the
// reference's (HF hook) names and layouts — see ForwardObserver. When unset,
// nothing is copied or computed for it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "gemma3/attention.hpp"
#include "gemma3/config.hpp"
#include "gemma3/error.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/ops/activations.hpp"
#include "gemma3/ops/matmul.hpp"
#include "gemma3/ops/norms.hpp"
#include "gemma3/ops/rope.hpp"
#include "gemma3/ops/threading.hpp"
#include "gemma3/ops/vector.hpp"
#include "gemma3/quant.hpp"
#include "gemma3/rope.hpp"
#include "gemma3/tensor.hpp"
#include "gemma3/weights.hpp"

namespace gemma3 {

// Image embeddings to insert in a forward call: rows [start, start + count) of
// this call's tokens (placeholders, normally the image token) are replaced by
// `embeddings` ([count, hidden_size] floats), UNSCALED (spec §3.1, §4.6).
// These rows attend to each other bidirectionally (spec §5.3), so a span must
// lie inside one forward call.
struct ImageSpan {
  size_t start = 0, count = 0;
  const float* embeddings = nullptr;
};

// Receives intermediate `name` of `layer` (−1 for embed, final_norm, logits).
// Names and shapes (n = tokens of this call, p0 = first position, T = p0 + n):
//   embed [n,H] (scaled, image rows inserted)
//   per layer: input_layernorm [n,H]; q_proj [n,Nq·D]; k_proj, v_proj [n,Nkv·D];
//     q_normed, q_rope [Nq,n,D]; k_normed, k_rope [Nkv,n,D];
//     attn_probs [Nq,n,T] (0 where masked); attn_context [n,Nq·D];
//     o_proj, post_attention_layernorm, residual_after_attn,
//     pre_feedforward_layernorm, mlp, post_feedforward_layernorm,
//     layer_output [n,H]
//   final_norm [r,H], logits [r,V] (r = n with all_logits, else 1: the last row)
// (Golden files are named text1_layer{i}_{name}.npy; hidden-state stacks are
// embed + every layer_output.)
using ForwardObserver = std::function<void(const std::string& name, int layer, const float* data,
                                           const std::vector<size_t>& shape)>;

// Scratch buffers of forward(); owned by whoever owns the KV cache (a
// Session), reused between calls.
struct ForwardBuffers {
  std::vector<float> x, a, q, k, v, ctx, o, gate, up, logits_rows, probs, cos, sin, tmp, attn;
};

namespace detail {

// Y[n, W.rows] = X[n, W.cols] · Wᵀ: the matrix–vector kernel for one row
// (decode), the matrix–matrix kernel for a prefill chunk.
inline void linear(const MatView& W, const float* X, size_t n, float* Y,
                   const ops::ThreadContext& tc) {
  if (n == 1) ops::matvec(W, X, Y, tc);
  else ops::matmul(W, X, n, Y, tc);
}

// Several projections of the same input (q/k/v; gate/up). For decode they run
// as one threaded pass (one barrier, and for Q8/Q4 one quantization of x)
// with the same bits as separate linear() calls.
inline void linear_same_input(std::initializer_list<std::pair<const MatView*, float*>> projections,
                              const float* X, size_t n, const ops::ThreadContext& tc) {
  if (n == 1 && projections.size() <= 4) {
    const MatView* W[4];
    float* Y[4];
    size_t count = 0;
    for (const auto& p : projections) {
      W[count] = p.first;
      Y[count++] = p.second;
    }
    ops::matvec_multi(W, Y, count, X, tc);
    return;
  }
  for (const auto& p : projections) linear(*p.first, X, n, p.second, tc);
}

// [n, heads, D] → [heads, n, D] (observer layout of q/k intermediates).
inline void heads_first(const float* x, size_t n, size_t heads, size_t D, float* out) {
  for (size_t r = 0; r < n; ++r)
    for (size_t h = 0; h < heads; ++h)
      std::copy(x + (r * heads + h) * D, x + (r * heads + h + 1) * D, out + (h * n + r) * D);
}

// An image span must lie inside the n tokens of the call that inserts it, and
// carry its embeddings (forward() and prefill() check every span with this).
inline void check_image_span(const ImageSpan& s, size_t n, const char* who) {
  if (s.start > n || s.count > n - s.start || !s.embeddings)
    throw Error(std::string(who) + ": image span [" + std::to_string(s.start) + ", " +
                std::to_string(s.start + s.count) + ") does not lie inside the " +
                std::to_string(n) + " tokens of the call, or has no embeddings");
}

}  // namespace detail

// The text decoder of one model: immutable, shareable between threads (all
// per-sequence state lives in the KVCache and ForwardBuffers passed in).
class Decoder {
 public:
  Decoder() = default;

  // weights must outlive the Decoder. Both are taken as valid: a loaded
  // model file was checked against the tensor table (ModelFile::open), and
  // weights built in memory are checked by validate_weights() (weights.hpp).
  Decoder(const ModelConfig& config, const TextWeights& weights) : cfg_(config), w_(&weights) {
    const TextConfig& c = cfg_.text;
    const size_t H = size_t(c.hidden_size);
    rope_local_ = Rope::local(c);
    rope_global_ = Rope::global(c);
    // spec §3.1: √hidden rounded to bf16, the checkpoint dtype (50.5 for the 4B).
    embed_scale_ = bf16_to_f32(f32_to_bf16(float(std::sqrt(double(H)))));
  }

  const ModelConfig& config() const { return cfg_; }
  float embed_scale() const { return embed_scale_; }
  const Rope& rope(bool global) const { return global ? rope_global_ : rope_local_; }
  size_t vocab_rows() const { return size_t(cfg_.text.vocab_size); }

  // Runs ids[0, n) at positions cache.length() … and commits them to the cache.
  // logits: [n, V] if all_logits, else [1, V] (the last token's); may be null.
  // observer: see ForwardObserver; observe_attn_probs = false skips the
  // attention probabilities (the only intermediate that grows with context).
  void forward(KVCache& cache, const int* ids, size_t n, const std::vector<ImageSpan>& images,
               float* logits, bool all_logits, ForwardBuffers& b, const ops::ThreadContext& tc,
               const ForwardObserver* observer = nullptr, bool observe_attn_probs = true) const {
    const TextConfig& c = cfg_.text;
    const TextWeights& W = *w_;
    const size_t H = size_t(c.hidden_size), D = size_t(c.head_dim);
    const size_t Nq = size_t(c.num_attention_heads), Nkv = size_t(c.num_key_value_heads);
    const size_t Q = Nq * D, K = Nkv * D, F = size_t(c.intermediate_size);
    const size_t V = size_t(c.vocab_size);
    const float eps = float(c.rms_norm_eps);
    if (n == 0) throw Error("decoder: forward() needs at least one token");
    cache.check_fits(n);
    const size_t p0 = cache.length();
    const size_t T = p0 + n;
    const bool watching = observer && *observer;
    auto observe = [&](const char* name, int layer, const float* data,
                       std::initializer_list<size_t> shape) {  // no allocation when unset
      if (watching) (*observer)(name, layer, data, std::vector<size_t>(shape));
    };

    b.x.resize(n * H);
    b.a.resize(n * H);
    b.q.resize(n * Q);
    b.k.resize(n * K);
    b.v.resize(n * K);
    b.ctx.resize(n * Q);
    b.o.resize(n * H);
    b.gate.resize(n * F);
    b.up.resize(n * F);

    // ---- embedding (spec §3.1) ----
    for (size_t r = 0; r < n; ++r) {
      if (ids[r] < 0 || size_t(ids[r]) >= V)
        throw Error("decoder: token id " + std::to_string(ids[r]) + " at row " + std::to_string(r) +
                    " is outside the vocabulary [0, " + std::to_string(V) + ")");
      dequantize_row(W.embed_tokens, size_t(ids[r]), &b.x[r * H]);  // any weight type
      ops::scale(embed_scale_, &b.x[r * H], H);
    }
    std::vector<ImageBlock> blocks;
    for (const ImageSpan& s : images) {
      if (s.count == 0) continue;
      detail::check_image_span(s, n, "decoder");
      for (const ImageBlock& o : blocks)
        if (s.start < o.start + o.count && o.start < s.start + s.count)
          throw Error("decoder: image spans overlap");
      // Inserted after the scaling, unscaled (spec §3.1 step 3).
      std::copy(s.embeddings, s.embeddings + s.count * H, &b.x[s.start * H]);
      blocks.push_back({s.start, s.count});
    }
    observe("embed", -1, b.x.data(), {n, H});

    // RoPE angles of this chunk's positions, for local and global layers.
    const size_t half = D / 2;
    b.cos.resize(2 * n * half);
    b.sin.resize(2 * n * half);
    for (size_t r = 0; r < n; ++r) {
      rope_local_.cos_sin(p0 + r, &b.cos[r * half], &b.sin[r * half]);
      rope_global_.cos_sin(p0 + r, &b.cos[(n + r) * half], &b.sin[(n + r) * half]);
    }

    AttentionParams ap;
    ap.num_heads = Nq;
    ap.num_kv_heads = Nkv;
    ap.head_dim = D;
    ap.scale = float(1.0 / std::sqrt(c.query_pre_attn_scalar));  // spec §3.4, not head_dim^-0.5
    ap.softcap = float(c.attn_logit_softcapping);
    ap.window = size_t(c.sliding_window);

    for (size_t l = 0; l < W.layers.size(); ++l) {
      const DecoderLayerWeights& L = W.layers[l];
      const int li = int(l);
      const bool global = c.layer_is_global[l];

      // ---- attention block (spec §3.3, §3.4) ----
      ops::rms_norm(b.x.data(), L.input_layernorm, n, H, eps, b.a.data());
      observe("input_layernorm", li, b.a.data(), {n, H});
      detail::linear_same_input(
          {{&L.q_proj, b.q.data()}, {&L.k_proj, b.k.data()}, {&L.v_proj, b.v.data()}}, b.a.data(),
          n, tc);
      observe("q_proj", li, b.q.data(), {n, Q});
      observe("k_proj", li, b.k.data(), {n, K});
      observe("v_proj", li, b.v.data(), {n, K});

      // Per-head RMSNorm of q and k before RoPE; v is not normalised.
      ops::rms_norm(b.q.data(), L.q_norm, n * Nq, D, eps, b.q.data());
      ops::rms_norm(b.k.data(), L.k_norm, n * Nkv, D, eps, b.k.data());
      if (watching) {
        b.tmp.resize(n * Q);
        detail::heads_first(b.q.data(), n, Nq, D, b.tmp.data());
        observe("q_normed", li, b.tmp.data(), {Nq, n, D});
        detail::heads_first(b.k.data(), n, Nkv, D, b.tmp.data());
        observe("k_normed", li, b.tmp.data(), {Nkv, n, D});
      }
      // Local layers: base rope_local_base_freq; global: rope_theta ÷ factor.
      const float* cos = &b.cos[(global ? n : 0) * half];
      const float* sin = &b.sin[(global ? n : 0) * half];
      for (size_t r = 0; r < n; ++r) {
        ops::rope(&b.q[r * Q], Nq, D, cos + r * half, sin + r * half);
        ops::rope(&b.k[r * K], Nkv, D, cos + r * half, sin + r * half);
      }
      if (watching) {
        detail::heads_first(b.q.data(), n, Nq, D, b.tmp.data());
        observe("q_rope", li, b.tmp.data(), {Nq, n, D});
        detail::heads_first(b.k.data(), n, Nkv, D, b.tmp.data());
        observe("k_rope", li, b.tmp.data(), {Nkv, n, D});
      }
      // This chunk's keys/values as the cache will hold them, so that prefill
      // and token-by-token decoding compute the same numbers.
      cache.round_to_type(b.k.data(), n * K);
      cache.round_to_type(b.v.data(), n * K);

      ap.global = global;
      float* probs = nullptr;
      if (watching && observe_attn_probs) {  // Nq·n·T floats: skip for long dumps
        b.probs.assign(Nq * n * T, 0.0f);
        probs = b.probs.data();
      }
      attention(ap, cache, l, b.q.data(), b.k.data(), b.v.data(), n, p0, blocks, b.ctx.data(),
                probs, tc, &b.attn);
      if (probs) observe("attn_probs", li, probs, {Nq, n, T});
      observe("attn_context", li, b.ctx.data(), {n, Q});
      detail::linear(L.o_proj, b.ctx.data(), n, b.o.data(), tc);
      observe("o_proj", li, b.o.data(), {n, H});
      ops::rms_norm(b.o.data(), L.post_attention_layernorm, n, H, eps, b.o.data());
      observe("post_attention_layernorm", li, b.o.data(), {n, H});
      ops::add_into(b.o.data(), b.x.data(), n * H);
      observe("residual_after_attn", li, b.x.data(), {n, H});

      // ---- MLP block (spec §3.5) ----
      ops::rms_norm(b.x.data(), L.pre_feedforward_layernorm, n, H, eps, b.a.data());
      observe("pre_feedforward_layernorm", li, b.a.data(), {n, H});
      detail::linear_same_input({{&L.gate_proj, b.gate.data()}, {&L.up_proj, b.up.data()}},
                                b.a.data(), n, tc);
      ops::gelu_mul(b.gate.data(), b.up.data(), b.gate.data(), n * F);
      detail::linear(L.down_proj, b.gate.data(), n, b.o.data(), tc);
      observe("mlp", li, b.o.data(), {n, H});
      ops::rms_norm(b.o.data(), L.post_feedforward_layernorm, n, H, eps, b.o.data());
      observe("post_feedforward_layernorm", li, b.o.data(), {n, H});
      ops::add_into(b.o.data(), b.x.data(), n * H);
      observe("layer_output", li, b.x.data(), {n, H});

      for (size_t r = 0; r < n; ++r) cache.store(l, p0 + r, &b.k[r * K], &b.v[r * K]);
    }
    cache.advance(n);

    // ---- final norm and tied LM head (spec §3.6) ----
    if (!logits && !watching) return;
    const size_t rows = all_logits ? n : 1;
    const float* last = &b.x[(n - rows) * H];
    ops::rms_norm(last, W.norm, rows, H, eps, b.a.data());
    observe("final_norm", -1, b.a.data(), {rows, H});
    float* out = logits;
    if (!out) {
      b.logits_rows.resize(rows * V);
      out = b.logits_rows.data();
    }
    detail::linear(W.embed_tokens, b.a.data(), rows, out, tc);
    if (c.final_logit_softcapping > 0) {  // none for Gemma 3; honoured if configured
      const float cap = float(c.final_logit_softcapping);
      for (size_t i = 0; i < rows * V; ++i) out[i] = std::tanh(out[i] / cap) * cap;
    }
    observe("logits", -1, out, {rows, V});
  }

 private:
  ModelConfig cfg_;
  const TextWeights* w_ = nullptr;
  Rope rope_local_, rope_global_;
  float embed_scale_ = 1.0f;
};

}  // namespace gemma3
