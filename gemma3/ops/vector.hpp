// gemma3/ops/vector.hpp — vector primitives: dot products and axpy of f32
// vectors against f32 or bf16 vectors (attention over an f32 or bf16 KV
// cache), scale, residual add, and array conversions between f32, bf16 and
// f16. Single-threaded (they work on one head / one row at a time).
//
// Accuracy: f32 products accumulated in f32 (several lane-wise partial sums,
// then added), so |dot − exact| ≤ n·2⁻²⁴·Σ|a_i·b_i| at worst. bf16 inputs are
// widened exactly.
#pragma once

#include "gemma3/ops/dispatch.hpp"

namespace gemma3::ops {

HWY_EXPORT(DotF32);
HWY_EXPORT(DotBF16);
HWY_EXPORT(AxpyF32);
HWY_EXPORT(AxpyBF16);
HWY_EXPORT(DotRowsF32);
HWY_EXPORT(DotRowsBF16);
HWY_EXPORT(WeightedSumF32);
HWY_EXPORT(WeightedSumBF16);
HWY_EXPORT(ScaleF32);
HWY_EXPORT(AddF32);
HWY_EXPORT(BF16ToF32);
HWY_EXPORT(F16ToF32);
HWY_EXPORT(F32ToBF16);

// Σ_i a[i]·b[i]   (b f32, or bf16 as raw uint16_t bits)
inline float dot(const float* a, const float* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF32)(a, b, n);
}
inline float dot(const float* a, const uint16_t* b_bf16, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotBF16)(a, b_bf16, n);
}

// y[i] += alpha·x[i]   (x f32 or bf16)
inline void axpy(float alpha, const float* x, float* y, size_t n) {
  HWY_DYNAMIC_DISPATCH(AxpyF32)(alpha, x, y, n);
}
inline void axpy(float alpha, const uint16_t* x_bf16, float* y, size_t n) {
  HWY_DYNAMIC_DISPATCH(AxpyBF16)(alpha, x_bf16, y, n);
}

// out[j] = dot(q, rows + j·stride, n) for j < count — attention scores of
// one query against `count` cached keys (bitwise equal to calling dot()).
inline void dot_rows(const float* q, const float* rows, size_t stride, size_t count, size_t n,
                     float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsF32)(q, rows, stride, count, n, out);
}
inline void dot_rows(const float* q, const uint16_t* rows_bf16, size_t stride, size_t count,
                     size_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsBF16)(q, rows_bf16, stride, count, n, out);
}

// out[i] = Σ_{j<count} p[j]·rows[j·stride + i] for i < n, summed over j in
// order — the attention output of one head from probabilities p.
inline void weighted_sum(const float* p, const float* rows, size_t stride, size_t count, size_t n,
                         float* out) {
  HWY_DYNAMIC_DISPATCH(WeightedSumF32)(p, rows, stride, count, n, out);
}
inline void weighted_sum(const float* p, const uint16_t* rows_bf16, size_t stride, size_t count,
                         size_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(WeightedSumBF16)(p, rows_bf16, stride, count, n, out);
}

// x[i] *= alpha
inline void scale(float alpha, float* x, size_t n) { HWY_DYNAMIC_DISPATCH(ScaleF32)(alpha, x, n); }

// y[i] += x[i]: adds x into y (the residual add; the scaled add is axpy)
inline void add_into(const float* x, float* y, size_t n) { HWY_DYNAMIC_DISPATCH(AddF32)(x, y, n); }

// Array conversions (exact widening; f32→bf16 rounds to nearest even like
// gemma3::f32_to_bf16, NaN stays NaN).
inline void bf16_to_f32(const uint16_t* in, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(BF16ToF32)(in, out, n);
}
inline void f16_to_f32(const uint16_t* in, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(F16ToF32)(in, out, n);
}
inline void f32_to_bf16(const float* in, uint16_t* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(F32ToBF16)(in, out, n);
}

}  // namespace gemma3::ops
