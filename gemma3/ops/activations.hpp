// gemma3/ops/activations.hpp — GELU, tanh approximation (both towers).
#pragma once

#include "gemma3/ops/dispatch.hpp"

namespace gemma3::ops {

HWY_EXPORT(GeluInPlace);
HWY_EXPORT(GeluMul);

// x[i] = gelu(x[i]),  gelu(u) = 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³)))
// (PyTorch's gelu(approximate="tanh"), spec §3.5). tanh is Highway's
// vectorized Tanh (≤ 4 ulp); the result is within 4·2⁻²⁴·(|u| + |gelu(u)|)
// of the exact formula (tested).
inline void gelu(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(GeluInPlace)(x, n); }

// Gated GELU of the Gemma MLP: out[i] = gelu(gate[i]) · up[i]
// (out may be gate or up).
inline void gelu_mul(const float* gate, const float* up, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(GeluMul)(gate, up, out, n);
}

}  // namespace gemma3::ops
