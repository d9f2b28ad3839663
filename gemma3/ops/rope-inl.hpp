// gemma3/ops/rope-inl.hpp — per-target code of the rotate-half RoPE
// (public API: gemma3/ops/rope.hpp).
//
// Per-target include guard (toggled by foreach_target.h), see docs/kernels.md.
#if defined(GEMMA3_OPS_ROPE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_ROPE_INL_H_
#undef GEMMA3_OPS_ROPE_INL_H_
#else
#define GEMMA3_OPS_ROPE_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// spec §3.4, for each head h and i < D/2 (D = head_dim), pairs (i, i + D/2):
//   z'_i       = z_i·cos_i − z_{i+D/2}·sin_i
//   z'_{i+D/2} = z_{i+D/2}·cos_i + z_i·sin_i
inline void RopeRotate(float* z, size_t heads, size_t head_dim, const float* cos,
                       const float* sin) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < heads; ++h) {
    float* a = z + h * head_dim;
    float* b = a + half;
    size_t i = 0;
    for (; i + N <= half; i += N) {
      const auto va = hn::LoadU(d, a + i), vb = hn::LoadU(d, b + i);
      const auto c = hn::LoadU(d, cos + i), s = hn::LoadU(d, sin + i);
      hn::StoreU(hn::Sub(hn::Mul(va, c), hn::Mul(vb, s)), d, a + i);
      hn::StoreU(hn::Add(hn::Mul(vb, c), hn::Mul(va, s)), d, b + i);
    }
    for (; i < half; ++i) {
      const float va = a[i], vb = b[i];
      a[i] = va * cos[i] - vb * sin[i];
      b[i] = vb * cos[i] + va * sin[i];
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_ROPE_INL_H_
