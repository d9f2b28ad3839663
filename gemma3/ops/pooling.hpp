// gemma3/ops/pooling.hpp — 2-D average pooling of a grid of vectors.
#pragma once

#include "gemma3/ops/dispatch.hpp"

namespace gemma3::ops {

HWY_EXPORT(AvgPool2D);

// in: H×W grid of C-vectors, row-major ([H·W, C]); kernel k, stride k, no
// padding (spec §4.5: 64×64 → 16×16 with k = 4). out: [(H/k)·(W/k), C]:
//
//   out[R·(W/k) + Q, c] = (Σ_{dy<k} Σ_{dx<k} in[(k·R + dy)·W + k·Q + dx, c]) / k²
//
// summed in the order written (like PyTorch's AvgPool2d).
inline void avg_pool_2d(const float* in, size_t H, size_t W, size_t C, size_t k, float* out) {
  if (k == 0) return;
  HWY_DYNAMIC_DISPATCH(AvgPool2D)(in, H, W, C, k, out);
}

}  // namespace gemma3::ops
