// gemma3/ops/norms-inl.hpp — per-target code of Gemma RMSNorm and LayerNorm
// (public API: gemma3/ops/norms.hpp).
//
// Per-target include guard (toggled by foreach_target.h), see docs/kernels.md.
#if defined(GEMMA3_OPS_NORMS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_NORMS_INL_H_
#undef GEMMA3_OPS_NORMS_INL_H_
#else
#define GEMMA3_OPS_NORMS_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Σ x² over n values (f32 lanes, then the lane sum, then the tail).
HWY_INLINE float SumSquares(const float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::LoadU(d, x + i);
    const auto b = hn::LoadU(d, x + i + N);
    s0 = hn::MulAdd(a, a, s0);
    s1 = hn::MulAdd(b, b, s1);
  }
  for (; i + N <= n; i += N) {
    const auto a = hn::LoadU(d, x + i);
    s0 = hn::MulAdd(a, a, s0);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) s += x[i] * x[i];
  return s;
}

HWY_INLINE float SumValues(const float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + N));
  }
  for (; i + N <= n; i += N) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) s += x[i];
  return s;
}

// Σ (x − mean)² (second pass of the biased variance).
HWY_INLINE float SumSquaredDeviations(const float* HWY_RESTRICT x, size_t n, float mean) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vm = hn::Set(d, mean);
  auto s0 = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto a = hn::Sub(hn::LoadU(d, x + i), vm);
    s0 = hn::MulAdd(a, a, s0);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, s0));
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

// spec §3.2, per row: y = x · 1/sqrt(mean(x²) + eps) · (1 + w).
// "(1 + w)": Gemma stores the offset from 1 (weights initialise to zero).
inline void RMSNormRows(const float* x, const float* w, size_t rows, size_t n, float eps,
                        float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto one = hn::Set(d, 1.0f);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = out + r * n;
    const float inv = 1.0f / std::sqrt(SumSquares(xr, n) / float(n) + eps);
    const auto vinv = hn::Set(d, inv);
    size_t i = 0;
    for (; i + N <= n; i += N) {
      const auto y =
          hn::Mul(hn::Mul(hn::LoadU(d, xr + i), vinv), hn::Add(one, hn::LoadU(d, w + i)));
      hn::StoreU(y, d, yr + i);
    }
    for (; i < n; ++i) yr[i] = (xr[i] * inv) * (1.0f + w[i]);
  }
}

// spec §4.4, per row: y = (x − mean)/sqrt(var + eps)·w + b, biased variance.
inline void LayerNormRows(const float* x, const float* w, const float* b, size_t rows, size_t n,
                          float eps, float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = out + r * n;
    const float mean = SumValues(xr, n) / float(n);
    const float var = SumSquaredDeviations(xr, n, mean) / float(n);
    const float rstd = 1.0f / std::sqrt(var + eps);
    const auto vm = hn::Set(d, mean);
    const auto vr = hn::Set(d, rstd);
    size_t i = 0;
    for (; i + N <= n; i += N) {
      const auto t = hn::Mul(hn::Sub(hn::LoadU(d, xr + i), vm), vr);
      hn::StoreU(hn::MulAdd(t, hn::LoadU(d, w + i), hn::LoadU(d, b + i)), d, yr + i);
    }
    for (; i < n; ++i) yr[i] = ((xr[i] - mean) * rstd) * w[i] + b[i];
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_NORMS_INL_H_
