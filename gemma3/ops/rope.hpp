// gemma3/ops/rope.hpp — rotary position embedding, rotate-half convention.
// The frequencies and cos/sin of a position come from gemma3/rope.hpp.
#pragma once

#include "gemma3/ops/dispatch.hpp"

namespace gemma3::ops {

HWY_EXPORT(RopeRotate);

// z holds `heads` vectors of head_dim values (one position); cos and sin hold
// head_dim/2 values (the angle of pair i). spec §3.4, pairs (i, i + D/2):
//
//   z'[i]       = z[i]·cos[i] − z[i + D/2]·sin[i]
//   z'[i + D/2] = z[i + D/2]·cos[i] + z[i]·sin[i]        (i < D/2)
//
// In place. head_dim must be even.
inline void rope(float* z, size_t heads, size_t head_dim, const float* cos, const float* sin) {
  HWY_DYNAMIC_DISPATCH(RopeRotate)(z, heads, head_dim, cos, sin);
}

}  // namespace gemma3::ops
