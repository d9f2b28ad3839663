// gemma3/ops/pooling-inl.hpp — per-target code of the 2-D average pooling
// (public API: gemma3/ops/pooling.hpp).
//
// Per-target include guard (toggled by foreach_target.h), see docs/kernels.md.
#if defined(GEMMA3_OPS_POOLING_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_POOLING_INL_H_
#undef GEMMA3_OPS_POOLING_INL_H_
#else
#define GEMMA3_OPS_POOLING_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// spec §4.5: in is an H×W grid of C-vectors, row-major ([H·W, C]); out[R, Q] =
// (Σ_{dy<k} Σ_{dx<k} in[k·R+dy, k·Q+dx]) / k², summed in that order (as
// PyTorch's AvgPool2d), for R < H/k, Q < W/k (floor).
inline void AvgPool2D(const float* in, size_t H, size_t W, size_t C, size_t k, float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t Ho = H / k, Wo = W / k;
  const float div = float(k * k);
  const auto vdiv = hn::Set(d, div);
  for (size_t R = 0; R < Ho; ++R) {
    for (size_t Q = 0; Q < Wo; ++Q) {
      float* o = out + (R * Wo + Q) * C;
      size_t c = 0;
      for (; c + N <= C; c += N) {
        auto s = hn::Zero(d);
        for (size_t dy = 0; dy < k; ++dy) {
          for (size_t dx = 0; dx < k; ++dx) {
            s = hn::Add(s, hn::LoadU(d, in + ((k * R + dy) * W + k * Q + dx) * C + c));
          }
        }
        hn::StoreU(hn::Div(s, vdiv), d, o + c);
      }
      for (; c < C; ++c) {
        float s = 0.0f;
        for (size_t dy = 0; dy < k; ++dy) {
          for (size_t dx = 0; dx < k; ++dx) s += in[((k * R + dy) * W + k * Q + dx) * C + c];
        }
        o[c] = s / div;
      }
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_POOLING_INL_H_
