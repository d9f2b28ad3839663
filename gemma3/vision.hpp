// gemma3/vision.hpp — THE image encoder: pixel values in, the image's soft
// tokens (text-width embeddings) out. SigLIP ViT encoder + Gemma 3's
// multimodal projector (spec §4.3–4.5).
//
// Follow one image [C, S, S] (real 4B: C = 3, S = 896, p = 14, Hv = 1152,
// N = (S/p)² = 4096 patches, 27 layers, 16 heads × 72, I = 4304, H = 2560):
//
//   x = Conv2d_p×p,stride p(pixels) + b  → [N, Hv]   (im2col + matmul)   §4.3
//   x += position_embedding                          (learned, no interpolation)
//   for each encoder layer:                                                §4.4
//     a = LayerNorm1(x);  q, k, v = a·Wᵀ + b         (16 heads of 72)
//     a = softmax(q·kᵀ · 72^-0.5) · v                (every patch sees every patch)
//     x += a·W_outᵀ + b_out
//     m = LayerNorm2(x);  x += GELU_tanh(m·W_fc1ᵀ + b_fc1)·W_fc2ᵀ + b_fc2
//   x = post_layernorm(x)                            → last_hidden [N, Hv]
//   projector:                                                              §4.5
//     pooled = AvgPool2d(k×k, stride k) of the (S/p)×(S/p) grid → [T, Hv]
//              (k = pooling_kernel() = 4, T = mm_tokens_per_image = 256)
//     normed = pooled / sqrt(mean(pooled²) + eps) · (1 + w)   (Gemma RMSNorm)
//     out    = normed · W_projᵀ                      → [T, H]
//
// SigLIP LayerNorms are standard (·w + b, NOT 1 + w); the projector norm is
// Gemma's (1 + w). The projector matrix is stored [H, Hv] (the converter
// transposes HF's [Hv, H], gemma3/weights.hpp), so out = normed·W_projᵀ is
// HF's normed·W. Everything is f32; weights are read in their stored type.
//
// Cost (spec §9.3): ≈5.45 TFLOP per 896² image, 40 % of it in attention
// (4096² scores per head and layer), done as blocked matrix products on the
// matmul kernel (attention() below).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"
#include "gemma3/ops/activations.hpp"
#include "gemma3/ops/matmul.hpp"
#include "gemma3/ops/norms.hpp"
#include "gemma3/ops/patch_embed.hpp"
#include "gemma3/ops/pooling.hpp"
#include "gemma3/ops/softmax.hpp"
#include "gemma3/ops/threading.hpp"
#include "gemma3/ops/vector.hpp"
#include "gemma3/tensor.hpp"
#include "gemma3/weights.hpp"

namespace gemma3 {

// Receives intermediate `name` (layer index for "vision.layers.{i}", else −1)
// as a row-major array of `shape`. Same signature as the decoder's
// ForwardObserver, so one callback can watch both. Names and shapes:
//   vision.embeddings [N, Hv]     patch embedding + position embedding
//   vision.layers.{i} [N, Hv]     output of encoder layer i
//   vision.last_hidden [N, Hv]    after post_layernorm
//   mm.pooled [T, Hv]  mm.normed [T, Hv]  mm.image_embeddings [T, H]
using VisionObserver = std::function<void(const std::string& name, int layer, const float* data,
                                          const std::vector<size_t>& shape)>;

// Encodes images of one model. Holds scratch buffers (≈ 0.12 GB for the real
// 4B shapes, + 4 MB per thread) so that encoding several images does not
// reallocate. Not thread-safe: one encoder per thread (the weights are
// shared read-only).
class VisionEncoder {
 public:
  // cfg and w as loaded (or checked by validate_weights); w must outlive it.
  VisionEncoder(const ModelConfig& cfg, const Weights& w);

  size_t num_patches() const { return N_; }   // (S/p)²
  size_t num_tokens() const { return T_; }    // mm_tokens_per_image
  size_t output_width() const { return H_; }  // text hidden size
  size_t pixel_count() const { return C_ * S_ * S_; }

  // pixel_values: [C, S, S] (gemma3/image.hpp's output for one image).
  // out: [num_tokens(), output_width()].
  void encode(const float* pixel_values, float* out, const ops::ThreadContext& tc,
              const VisionObserver* observer = nullptr);

 private:
  void encoder_layer(const VisionLayerWeights& L, const ops::ThreadContext& tc);
  void split_heads(const float* src, float* dst, bool transposed, const ops::ThreadContext& tc);
  void attention(const ops::ThreadContext& tc);  // qh, kh, vt → a_ (the context)
  void layer_norm(const float* x, const float* w, const float* b, float* out,
                  const ops::ThreadContext& tc) const;

  const VisionWeights* vw_;
  const ProjectorWeights* pw_;
  // channels, image size, patch size, patches per side, patches, widths, heads, pooling, tokens
  size_t C_, S_, patch_, grid_, N_, Hv_, heads_, dh_, I_, pool_, T_, H_;
  float ln_eps_, mm_eps_, attn_scale_;

  std::vector<float> x_;     // [N, Hv] the residual stream
  std::vector<float> a_;     // [N, Hv] LayerNorm output, then attention context
  std::vector<float> proj_;  // [N, Hv] q, k, v (heads side by side), then out_proj
  // The patch embedding, attention and the MLP never run at once, so they
  // share one work array of 3·N·Hv floats (with x_, a_, proj_: 0.11 GB for
  // the 4B shapes; it was 0.18 GB with separate q, k, v and patch arrays):
  //   embedding: the im2col patches [N, C·p·p]
  //   attention: qh, kh [heads, N, dh] (q, k with heads split out) and
  //              vt [heads, dh, N] (v transposed per head)
  //   MLP:       the fc1/GELU activations of mlp_rows_ patches [mlp_rows_, I]
  std::vector<float> work_;
  size_t mlp_rows_ = 0;
  float* patches() { return work_.data(); }
  float* qh() { return work_.data(); }
  float* kh() { return work_.data() + N_ * Hv_; }
  float* vt() { return work_.data() + 2 * N_ * Hv_; }
  float* mlp() { return work_.data(); }
  std::vector<float> attn_tmp_;         // per thread: scores [tq, N] + context [tq, dh]
  std::vector<float> pooled_, normed_;  // [T, Hv]
};

// One-shot convenience: builds a VisionEncoder (allocating its scratch) and
// encodes one image. Prefer a VisionEncoder for several images.
inline void encode_image(const ModelConfig& cfg, const Weights& w, const float* pixel_values,
                         float* out, const ops::ThreadContext& tc,
                         const VisionObserver* observer = nullptr) {
  VisionEncoder enc(cfg, w);
  enc.encode(pixel_values, out, tc, observer);
}

// ---- implementation -----------------------------------------------------------

namespace detail {

// Query rows per attention task. Both products repack their W operand (K_h,
// then V_hᵀ: N·dh floats) for every task and reuse it for kVisionQueryTile
// query rows, so larger tiles amortize the packing; 256 reaches ~95 % of the
// FMA peak on q·kᵀ (measured on Zen 5; 64 gave ~65 %). The scores tile
// [256, N] (4 MB at N = 4096) per thread lives in L2/L3 between q·kᵀ, the
// softmax and p·v.
constexpr size_t kVisionQueryTile = 256;
// Probability rows per p·v product (the packed W operand, 128·N floats).
constexpr size_t kVisionValueTile = 128;

// Row blocks for the element-wise passes (LayerNorm, GELU, residual adds),
// so they use all threads; any split gives the same bits.
constexpr size_t kVisionRowBlock = 64;

// f(r0, r1) for each block of kVisionRowBlock rows of [0, n), in parallel.
template <class F>
inline void for_row_blocks(size_t n, const ops::ThreadContext& tc, const F& f) {
  const size_t rb = kVisionRowBlock;
  ops::parallel_for((n + rb - 1) / rb, tc,
                    [&](size_t blk, int) { f(blk * rb, std::min(n, blk * rb + rb)); });
}

// An f32 activation array viewed as a weight matrix [rows, cols], so the
// matmul kernel can multiply activations by activations.
inline MatView f32_matrix(const float* data, size_t rows, size_t cols) {
  MatView m;
  m.type = WeightType::F32;
  m.rows = rows;
  m.cols = cols;
  m.data = reinterpret_cast<const uint8_t*>(data);
  return m;
}

}  // namespace detail

// Derived sizes only: the config and weights are taken as valid (checked by
// ModelFile::open for a loaded model, by validate_weights() for weights built
// in memory).
inline VisionEncoder::VisionEncoder(const ModelConfig& cfg, const Weights& w)
    : vw_(&w.vision), pw_(&w.projector) {
  if (!cfg.has_vision) throw Error("vision: this model has no vision tower (text-only)");
  const VisionConfig& v = cfg.vision;
  C_ = size_t(v.num_channels);
  S_ = size_t(v.image_size);
  patch_ = size_t(v.patch_size);
  Hv_ = size_t(v.hidden_size);
  heads_ = size_t(v.num_attention_heads);
  I_ = size_t(v.intermediate_size);
  H_ = size_t(cfg.text.hidden_size);
  T_ = size_t(cfg.mm_tokens_per_image);
  grid_ = S_ / patch_;  // patches per side
  N_ = grid_ * grid_;
  dh_ = Hv_ / heads_;
  // spec §4.5: tokens_per_side = √T, kernel = patches_per_side / tokens_per_side.
  pool_ = grid_ / size_t(cfg.tokens_per_side());
  ln_eps_ = float(v.layer_norm_eps);
  // spec §1.4: HF's mm_soft_emb_norm takes eps from vision_config.layer_norm_eps.
  mm_eps_ = float(v.layer_norm_eps);
  attn_scale_ = float(1.0 / std::sqrt(double(dh_)));  // spec §4.4: head_dim^-0.5

  x_.resize(N_ * Hv_);
  a_.resize(N_ * Hv_);
  proj_.resize(N_ * Hv_);
  work_.resize(std::max(3 * N_ * Hv_, N_ * C_ * patch_ * patch_));
  // The MLP runs on as many patches at a time as its activations fit in work_
  // (for the 4B: 3289 of 4096, so two passes; any split gives the same bits).
  mlp_rows_ = std::min(N_, std::max<size_t>(1, work_.size() / I_));
  pooled_.resize(T_ * Hv_);
  normed_.resize(T_ * Hv_);
}

inline void VisionEncoder::encode(const float* pixel_values, float* out,
                                  const ops::ThreadContext& tc, const VisionObserver* observer) {
  if (pixel_values == nullptr || out == nullptr)
    throw Error("vision: encode() needs pixel values and an output array");
  const bool watching = observer && *observer;
  auto observe = [&](const std::string& name, int layer, const float* data, size_t rows,
                     size_t cols) {
    if (watching) (*observer)(name, layer, data, std::vector<size_t>{rows, cols});
  };
  const VisionWeights& W = *vw_;
  float* x = x_.data();

  // spec §4.3: the p×p stride-p convolution is a matmul over flattened
  // patches (patch t = r·P + q; column c·p·p + dy·p + dx, the Conv2d weight
  // order), plus the bias; then the learned position embedding of patch t.
  ops::im2col_patches(pixel_values, C_, S_, patch_, patches());
  ops::matmul(W.patch_embedding, patches(), N_, x, tc, W.patch_bias);
  ops::add_into(W.position_embedding, x, N_ * Hv_);
  observe("vision.embeddings", -1, x, N_, Hv_);

  for (size_t i = 0; i < W.layers.size(); ++i) {
    encoder_layer(W.layers[i], tc);
    observe("vision.layers." + std::to_string(i), int(i), x, N_, Hv_);
  }

  // spec §4.4: post_layernorm → last_hidden_state (in place).
  layer_norm(x, W.post_layernorm_weight, W.post_layernorm_bias, x, tc);
  observe("vision.last_hidden", -1, x, N_, Hv_);

  // spec §4.5: the projector. The sequence is the P×P grid, row-major.
  ops::avg_pool_2d(x, grid_, grid_, Hv_, pool_, pooled_.data());
  observe("mm.pooled", -1, pooled_.data(), T_, Hv_);
  ops::rms_norm(pooled_.data(), pw_->mm_soft_emb_norm, T_, Hv_, mm_eps_, normed_.data());
  observe("mm.normed", -1, normed_.data(), T_, Hv_);
  ops::matmul(pw_->mm_input_projection, normed_.data(), T_, out, tc);
  observe("mm.image_embeddings", -1, out, T_, H_);
}

// spec §4.4: one pre-LayerNorm encoder layer on the residual stream x_.
inline void VisionEncoder::encoder_layer(const VisionLayerWeights& L,
                                         const ops::ThreadContext& tc) {
  float* x = x_.data();
  float* a = a_.data();
  using detail::for_row_blocks;

  // Attention block: x += out_proj(MHA(LayerNorm1(x))). q, k and v are
  // computed one after another into proj_, each split into heads in work_.
  float* proj = proj_.data();
  layer_norm(x, L.layer_norm1_weight, L.layer_norm1_bias, a, tc);
  ops::matmul(L.q_proj, a, N_, proj, tc, L.q_bias);
  split_heads(proj, qh(), false, tc);
  ops::matmul(L.k_proj, a, N_, proj, tc, L.k_bias);
  split_heads(proj, kh(), false, tc);
  ops::matmul(L.v_proj, a, N_, proj, tc, L.v_bias);
  split_heads(proj, vt(), true, tc);
  attention(tc);  // context (heads concatenated) → a_
  ops::matmul(L.out_proj, a, N_, proj, tc, L.out_bias);
  for_row_blocks(N_, tc, [&](size_t r0, size_t r1) {
    ops::add_into(proj + r0 * Hv_, x + r0 * Hv_, (r1 - r0) * Hv_);
  });

  // MLP block: x += fc2(GELU_tanh(fc1(LayerNorm2(x)))), mlp_rows_ patches
  // at a time (a row's result does not depend on the others).
  layer_norm(x, L.layer_norm2_weight, L.layer_norm2_bias, a, tc);
  for (size_t p0 = 0; p0 < N_; p0 += mlp_rows_) {
    const size_t n = std::min(mlp_rows_, N_ - p0);
    ops::matmul(L.fc1, a + p0 * Hv_, n, mlp(), tc, L.fc1_bias);
    for_row_blocks(n, tc,
                   [&](size_t r0, size_t r1) { ops::gelu(mlp() + r0 * I_, (r1 - r0) * I_); });
    ops::matmul(L.fc2, mlp(), n, a + p0 * Hv_, tc, L.fc2_bias);  // a's rows p0… are done with
  }
  for_row_blocks(N_, tc, [&](size_t r0, size_t r1) {
    ops::add_into(a + r0 * Hv_, x + r0 * Hv_, (r1 - r0) * Hv_);
  });
}

// [N, Hv] with heads side by side → [heads, N, dh] (transposed = false) or
// [heads, dh, N] (true: vᵀ per head, the W operand of the p·v product).
inline void VisionEncoder::split_heads(const float* src, float* dst, bool transposed,
                                       const ops::ThreadContext& tc) {
  const size_t N = N_, dh = dh_, Hv = Hv_;
  ops::parallel_for(heads_, tc, [&](size_t h, int) {
    float* out = dst + h * N * dh;
    for (size_t i = 0; i < N; ++i) {
      const float* row = src + i * Hv + h * dh;
      if (transposed)
        for (size_t d = 0; d < dh; ++d) out[d * N + i] = row[d];
      else std::copy(row, row + dh, out + i * dh);
    }
  });
}

// spec §4.4: multi-head self-attention over all N patches, no mask:
//   for each head h:  ctx_h = softmax(q_h·k_hᵀ · dh^-0.5) · v_h
// as blocked matrix products on the matmul kernel (Y = X·Wᵀ, W packed once
// per call and reused by every row of X):
//   scores [tq, N]  = Q_h tile [tq, dh] · (K_h [N, dh])ᵀ          X = Q, W = K_h
//   softmax of each score row (f32, max-subtracted)
//   ctxᵀ   [dh, ts] = V_hᵀ [dh, N] · (P sub-tile [ts, N])ᵀ        X = V_hᵀ, W = P
// The second product is computed transposed (ctxᵀ instead of ctx = P·V_h)
// because W = V_hᵀ would have dh = 72 rows, padded to 96 by the kernel's
// 32-column micro-tiles; W = P has no padding (measured 150+ vs 110 GFLOP/s).
// Either way every output is one f32 sum over the N keys in order.
// Tasks are (head, query tile) pairs spread over the threads; each runs its
// products single-threaded, so the result does not depend on the thread
// count.
inline void VisionEncoder::attention(const ops::ThreadContext& tc) {
  const size_t N = N_, dh = dh_, Hv = Hv_;
  const size_t tq = detail::kVisionQueryTile, ts = detail::kVisionValueTile;
  const size_t tiles = (N + tq - 1) / tq;
  const size_t tasks = heads_ * tiles;
  const size_t per_thread = tq * N + dh * ts;
  const int nt = ops::effective_threads(tc, tasks);
  attn_tmp_.resize(per_thread * size_t(nt));
  const ops::ThreadContext one(1);
  ops::parallel_for(tasks, tc, [&](size_t t, int thread) {
    const size_t h = t / tiles, i0 = (t % tiles) * tq, rows = std::min(tq, N - i0);
    float* scores = attn_tmp_.data() + size_t(thread) * per_thread;
    float* ctx_t = scores + tq * N;  // [dh, ts]
    const MatView K = detail::f32_matrix(kh() + h * N * dh, N, dh);
    const float* vth = vt() + h * dh * N;
    ops::matmul(K, qh() + (h * N + i0) * dh, rows, scores, one);
    for (size_t r = 0; r < rows; ++r) {
      ops::scale(attn_scale_, scores + r * N, N);  // HF: (q·kᵀ) · scale, then softmax
      ops::softmax(scores + r * N, N);
    }
    for (size_t s0 = 0; s0 < rows; s0 += ts) {
      const size_t m = std::min(ts, rows - s0);
      const MatView P = detail::f32_matrix(scores + s0 * N, m, N);
      ops::matmul(P, vth, dh, ctx_t, one);
      // ctx row i0+s0+r, head h (heads side by side, head h at h·dh).
      for (size_t r = 0; r < m; ++r) {
        float* dst = a_.data() + (i0 + s0 + r) * Hv + h * dh;
        for (size_t d = 0; d < dh; ++d) dst[d] = ctx_t[d * m + r];
      }
    }
  });
}

// spec §4.4: standard LayerNorm (·w + b) of every row of an [N, Hv] array,
// threaded over row blocks; out may equal x.
inline void VisionEncoder::layer_norm(const float* x, const float* w, const float* b, float* out,
                                      const ops::ThreadContext& tc) const {
  detail::for_row_blocks(N_, tc, [&](size_t r0, size_t r1) {
    ops::layer_norm(x + r0 * Hv_, w, b, r1 - r0, Hv_, ln_eps_, out + r0 * Hv_);
  });
}

}  // namespace gemma3
