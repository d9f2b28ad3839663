// gemma3/ops/norms.hpp — Gemma RMSNorm and LayerNorm (f32), row by row.
#pragma once

#include "gemma3/ops/dispatch.hpp"

namespace gemma3::ops {

HWY_EXPORT(RMSNormRows);
HWY_EXPORT(LayerNormRows);

// Gemma RMSNorm (spec §3.2), for each of `rows` rows of n values:
//
//   out[i] = x[i] · 1/sqrt((1/n)·Σ_m x[m]² + eps) · (1 + w[i])
//
// (1 + w)·x: Gemma stores w as an offset from 1. eps is inside the square
// root. out may equal x (in place). Used for all text norms, the per-head
// q/k norms (rows = heads, n = head_dim) and the projector norm.
inline void rms_norm(const float* x, const float* w, size_t rows, size_t n, float eps, float* out) {
  HWY_DYNAMIC_DISPATCH(RMSNormRows)(x, w, rows, n, eps, out);
}

// LayerNorm with weight and bias (SigLIP, spec §4.4), for each row:
//
//   mean = (1/n)·Σ x,  var = (1/n)·Σ (x − mean)²   (biased)
//   out[i] = (x[i] − mean) / sqrt(var + eps) · w[i] + b[i]
//
// out may equal x.
inline void layer_norm(const float* x, const float* w, const float* b, size_t rows, size_t n,
                       float eps, float* out) {
  HWY_DYNAMIC_DISPATCH(LayerNormRows)(x, w, b, rows, n, eps, out);
}

}  // namespace gemma3::ops
