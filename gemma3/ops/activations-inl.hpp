// gemma3/ops/activations-inl.hpp — per-target code of the GELU (tanh
// approximation) kernels (public API: gemma3/ops/activations.hpp).
//
// Per-target include guard (toggled by foreach_target.h), see docs/kernels.md.
#if defined(GEMMA3_OPS_ACTIVATIONS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_ACTIVATIONS_INL_H_
#undef GEMMA3_OPS_ACTIVATIONS_INL_H_
#else
#define GEMMA3_OPS_ACTIVATIONS_INL_H_
#endif

#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// spec §3.5: gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with
// Highway's vectorized Tanh (contrib/math, ≤ 4 ulp).
template <class D>
HWY_INLINE hn::Vec<D> GeluTanh(D d, hn::Vec<D> x) {
  const auto kBeta = hn::Set(d, 0.7978845608028654f);  // √(2/π)
  const auto kKappa = hn::Set(d, 0.044715f);
  const auto x3 = hn::Mul(hn::Mul(x, x), x);
  const auto t = hn::Tanh(d, hn::Mul(kBeta, hn::MulAdd(kKappa, x3, x)));
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), t));
}

// The tail goes through a padded vector, so every element sees the same math.
inline void GeluInPlace(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(GeluTanh(d, hn::LoadU(d, x + i)), d, x + i);
  if (i < n) {
    HWY_ALIGN float buf[hn::MaxLanes(d)] = {};
    for (size_t k = 0; k < n - i; ++k) buf[k] = x[i + k];
    hn::Store(GeluTanh(d, hn::Load(d, buf)), d, buf);
    for (size_t k = 0; k < n - i; ++k) x[i + k] = buf[k];
  }
}

// out[i] = gelu(gate[i])·up[i]  (out may be gate or up)
inline void GeluMul(const float* gate, const float* up, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(GeluTanh(d, hn::LoadU(d, gate + i)), hn::LoadU(d, up + i)), d, out + i);
  }
  if (i < n) {
    HWY_ALIGN float g[hn::MaxLanes(d)] = {};
    HWY_ALIGN float u[hn::MaxLanes(d)] = {};
    for (size_t k = 0; k < n - i; ++k) {
      g[k] = gate[i + k];
      u[k] = up[i + k];
    }
    hn::Store(hn::Mul(GeluTanh(d, hn::Load(d, g)), hn::Load(d, u)), d, g);
    for (size_t k = 0; k < n - i; ++k) out[i + k] = g[k];
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_ACTIVATIONS_INL_H_
