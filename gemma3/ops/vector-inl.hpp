// gemma3/ops/vector-inl.hpp — per-target code of the vector primitives
// (dot, axpy, scale, add, number-format conversions) and the small load
// helpers every other kernel uses. Compiled once per Highway target by
// gemma3/ops/dispatch.hpp; include gemma3/ops/vector.hpp to call them.
//
// Per-target include guard (toggled by foreach_target.h), see docs/kernels.md.
#if defined(GEMMA3_OPS_VECTOR_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_VECTOR_INL_H_
#undef GEMMA3_OPS_VECTOR_INL_H_
#else
#define GEMMA3_OPS_VECTOR_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The target this code was compiled for (to report which target runs).
inline int64_t CompiledTarget() { return HWY_TARGET; }

// ---- loads of the storage formats as f32 vectors ---------------------------

// Lanes(d) floats.
template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const float* HWY_RESTRICT p) {
  return hn::LoadU(d, p);
}

// Lanes(d) bf16 values, widened exactly (bf16 is the top half of an f32).
template <class D>
HWY_INLINE hn::Vec<D> LoadBF16(D d, const uint16_t* HWY_RESTRICT p) {
  const hn::Rebind<uint16_t, D> du16;
  const hn::RebindToUnsigned<D> du32;
  return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, p))));
}

// Lanes(d) IEEE binary16 values, widened exactly: subnormals, infinities and
// NaN included. Done with integer ops on every target (Highway 1.0.3's
// emulation for targets without F16C maps inf/NaN to finite values): the
// 15 magnitude bits shifted into an f32's exponent/mantissa field are the f16
// value times 2⁻¹¹², so one exact multiply by 2¹¹² finishes normal and
// subnormal values; exponent 31 becomes f32 exponent 255.
template <class D>
HWY_INLINE hn::Vec<D> LoadF16(D d, const uint16_t* HWY_RESTRICT p) {
  const hn::Rebind<uint16_t, D> du16;
  const hn::RebindToUnsigned<D> du32;
  const auto h = hn::PromoteTo(du32, hn::LoadU(du16, p));
  const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du32, 0x8000u)));
  const auto mag = hn::ShiftLeft<13>(hn::And(h, hn::Set(du32, 0x7fffu)));
  const auto finite = hn::Mul(hn::BitCast(d, mag), hn::Set(d, 5.192296858534828e+33f));  // 2^112
  const auto special = hn::BitCast(d, hn::Or(mag, hn::Set(du32, 0x7f800000u)));  // inf / NaN
  const auto is_special = hn::Eq(hn::And(h, hn::Set(du32, 0x7c00u)), hn::Set(du32, 0x7c00u));
  const auto v = hn::IfThenElse(hn::RebindMask(d, is_special), special, finite);
  return hn::Or(v, hn::BitCast(d, sign));
}

// Overloads so templates can read "float or bf16" element arrays alike.
template <class D>
HWY_INLINE hn::Vec<D> LoadAsF32(D d, const float* HWY_RESTRICT p) {
  return LoadF32(d, p);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadAsF32(D d, const uint16_t* HWY_RESTRICT p) {
  return LoadBF16(d, p);
}
HWY_INLINE float ScalarAsF32(float v) { return v; }
HWY_INLINE float ScalarAsF32(uint16_t bf16) {
  const uint32_t bits = uint32_t(bf16) << 16;
  float f;
  hwy::CopyBytes<4>(&bits, &f);
  return f;
}

// ---- dot / axpy over f32 or bf16 vectors -----------------------------------

// Σ_i a[i]·b[i] with f32 accumulation: four vector accumulators (lane-wise
// sequential sums), added together, then the lanes, then a scalar tail.
template <typename T>
HWY_INLINE float DotImpl(const float* HWY_RESTRICT a, const T* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), LoadAsF32(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), LoadAsF32(d, b + i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * N), LoadAsF32(d, b + i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * N), LoadAsF32(d, b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), LoadAsF32(d, b + i), s0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) sum += a[i] * ScalarAsF32(b[i]);
  return sum;
}

// y[i] += alpha·x[i]
template <typename T>
HWY_INLINE void AxpyImpl(float alpha, const T* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, alpha);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::MulAdd(va, LoadAsF32(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] += alpha * ScalarAsF32(x[i]);
}

inline float DotF32(const float* a, const float* b, size_t n) { return DotImpl(a, b, n); }
inline float DotBF16(const float* a, const uint16_t* b, size_t n) { return DotImpl(a, b, n); }
inline void AxpyF32(float alpha, const float* x, float* y, size_t n) { AxpyImpl(alpha, x, y, n); }
inline void AxpyBF16(float alpha, const uint16_t* x, float* y, size_t n) {
  AxpyImpl(alpha, x, y, n);
}

// out[j] = dot(q, rows + j·stride) for j < count; out[j] equals DotImpl bitwise.
template <typename T>
HWY_INLINE void DotRowsImpl(const float* q, const T* rows, size_t stride, size_t count, size_t n,
                            float* out) {
  for (size_t j = 0; j < count; ++j) out[j] = DotImpl(q, rows + j * stride, n);
}
inline void DotRowsF32(const float* q, const float* rows, size_t stride, size_t count, size_t n,
                       float* out) {
  DotRowsImpl(q, rows, stride, count, n, out);
}
inline void DotRowsBF16(const float* q, const uint16_t* rows, size_t stride, size_t count, size_t n,
                        float* out) {
  DotRowsImpl(q, rows, stride, count, n, out);
}

// out[i] = Σ_j p[j]·rows[j·stride + i], summed in order j = 0, 1, … per i.
template <typename T>
HWY_INLINE void WeightedSumImpl(const float* p, const T* rows, size_t stride, size_t count,
                                size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = 0.0f;
  for (size_t j = 0; j < count; ++j) AxpyImpl(p[j], rows + j * stride, out, n);
}
inline void WeightedSumF32(const float* p, const float* rows, size_t stride, size_t count, size_t n,
                           float* out) {
  WeightedSumImpl(p, rows, stride, count, n, out);
}
inline void WeightedSumBF16(const float* p, const uint16_t* rows, size_t stride, size_t count,
                            size_t n, float* out) {
  WeightedSumImpl(p, rows, stride, count, n, out);
}

// ---- element-wise ------------------------------------------------------------

// x[i] *= alpha
inline void ScaleF32(float alpha, float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, alpha);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), va), d, x + i);
  for (; i < n; ++i) x[i] *= alpha;
}

// y[i] += x[i]   (residual add)
inline void AddF32(const float* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::Add(hn::LoadU(d, y + i), hn::LoadU(d, x + i)), d, y + i);
  for (; i < n; ++i) y[i] += x[i];
}

// ---- number formats ------------------------------------------------------------

inline void BF16ToF32(const uint16_t* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(LoadBF16(d, in + i), d, out + i);
  for (; i < n; ++i) out[i] = ScalarAsF32(in[i]);
}

inline void F16ToF32(const uint16_t* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(LoadF16(d, in + i), d, out + i);
  if (i < n) {  // tail through a zero-padded buffer: never read past `in`
    HWY_ALIGN uint16_t buf[hn::MaxLanes(d)] = {};
    HWY_ALIGN float res[hn::MaxLanes(d)];
    for (size_t k = 0; k < n - i; ++k) buf[k] = in[i + k];
    hn::Store(LoadF16(d, buf), d, res);
    for (size_t k = 0; k < n - i; ++k) out[i + k] = res[k];
  }
}

// Round to nearest even like gemma3::f32_to_bf16 (NaN stays a quiet NaN).
inline void F32ToBF16(const float* HWY_RESTRICT in, uint16_t* HWY_RESTRICT out, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::RebindToUnsigned<decltype(d)> du32;
  const hn::RebindToSigned<decltype(d)> di32;
  const hn::Rebind<uint16_t, decltype(d)> du16;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto bits = hn::BitCast(du32, hn::LoadU(d, in + i));
    const auto odd = hn::And(hn::ShiftRight<16>(bits), hn::Set(du32, 1u));
    const auto rounded = hn::ShiftRight<16>(hn::Add(bits, hn::Add(hn::Set(du32, 0x7fffu), odd)));
    const auto quiet = hn::Or(hn::ShiftRight<16>(bits), hn::Set(du32, 0x40u));
    const auto is_nan = hn::Gt(hn::BitCast(di32, hn::And(bits, hn::Set(du32, 0x7fffffffu))),
                               hn::Set(di32, 0x7f800000));
    const auto r = hn::IfThenElse(hn::RebindMask(du32, is_nan), quiet, rounded);
    hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di32, r)), du16, out + i);
  }
  for (; i < n; ++i) {
    uint32_t bits;
    hwy::CopyBytes<4>(in + i, &bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
      out[i] = uint16_t((bits >> 16) | 0x40u);
    } else {
      out[i] = uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_VECTOR_INL_H_
