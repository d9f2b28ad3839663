// gemma3/ops/softmax-inl.hpp — per-target code of the softmax
// (public API: gemma3/ops/softmax.hpp).
//
// Per-target include guard (toggled by foreach_target.h), see docs/kernels.md.
#if defined(GEMMA3_OPS_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_SOFTMAX_INL_H_
#undef GEMMA3_OPS_SOFTMAX_INL_H_
#else
#define GEMMA3_OPS_SOFTMAX_INL_H_
#endif

#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// In place: x[i] = exp(x[i] − max) / Σ_j exp(x[j] − max). Masked entries are
// −inf and become exactly 0; a row with every entry −inf becomes all zeros
// (it attends to nothing) instead of 0/0 = NaN.
inline void SoftmaxInPlace(float* x, size_t n) {
  if (n == 0) return;
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  auto vmax = hn::Set(d, neg_inf);
  size_t i = 0;
  for (; i + N <= n; i += N) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
  // Lane maximum by hand: Highway 1.0.3's MaxOfLanes on EMU128 starts from
  // the lowest finite float, which would turn an all −inf row into finite.
  HWY_ALIGN float lanes[hn::MaxLanes(d)];
  hn::Store(vmax, d, lanes);
  float mx = neg_inf;
  for (size_t k = 0; k < N; ++k) mx = lanes[k] > mx ? lanes[k] : mx;
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  if (mx == neg_inf) {
    for (size_t k = 0; k < n; ++k) x[k] = 0.0f;
    return;
  }
  // exp(x − max): arguments are ≤ 0; clamping them at −200 keeps Exp's
  // integer conversion in range and still gives exactly 0 (Exp returns 0
  // below −104).
  const auto vm = hn::Set(d, mx);
  const auto lo = hn::Set(d, -200.0f);
  auto vsum = hn::Zero(d);
  i = 0;
  for (; i + N <= n; i += N) {
    const auto e = hn::Exp(d, hn::Max(hn::Sub(hn::LoadU(d, x + i), vm), lo));
    hn::StoreU(e, d, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  if (i < n) {
    HWY_ALIGN float buf[hn::MaxLanes(d)];
    for (size_t k = 0; k < N; ++k) buf[k] = neg_inf;
    for (size_t k = 0; k < n - i; ++k) buf[k] = x[i + k];
    hn::Store(hn::Exp(d, hn::Max(hn::Sub(hn::Load(d, buf), vm), lo)), d, buf);
    for (size_t k = 0; k < n - i; ++k) {
      x[i + k] = buf[k];
      sum += buf[k];
    }
  }
  const float inv = 1.0f / sum;  // sum ≥ 1: the maximum contributes exp(0)
  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vinv), d, x + i);
  for (; i < n; ++i) x[i] *= inv;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_SOFTMAX_INL_H_
