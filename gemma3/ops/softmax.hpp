// gemma3/ops/softmax.hpp — softmax in f32, max-subtracted, in place.
#pragma once

#include "gemma3/ops/dispatch.hpp"

namespace gemma3::ops {

HWY_EXPORT(SoftmaxInPlace);

//   m = max_i x[i];  x[i] = exp(x[i] − m) / Σ_j exp(x[j] − m)
//
// Masked entries (−inf) become exactly 0. A row whose entries are all −inf
// becomes all zeros (it attends to nothing) rather than NaN. exp is
// Highway's vectorized Exp (≤ 1 ulp in its documented range).
inline void softmax(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(SoftmaxInPlace)(x, n); }

}  // namespace gemma3::ops
