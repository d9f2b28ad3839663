// gemma3/tensor.hpp — weight types and how a weight matrix lies in memory.
//
// A weight matrix W is [rows, cols] = [out_features, in_features], row-major,
// exactly as nn.Linear stores it: y = x·Wᵀ, one dot product per row. The
// model file stores each matrix in one of four types; the kernels in
// gemma3/ops/ read every type in place (mmap'ed), decompressing inside the dot
// product. docs/format.md describes the same layouts byte by byte.
//
//   F32   rows·cols float32.
//   BF16  rows·cols bfloat16 (the upper 16 bits of a float32).
//   Q8    per row, ceil(cols/32) groups of 32 int8 values (a short last group
//         is zero-padded to 32), value = q·scale, q in [-127, 127];
//         then, starting at the next 64-byte boundary of the tensor, the
//         scales: rows·groups IEEE binary16, row-major.
//   Q4    per row, ceil(cols/32) groups of 16 bytes; byte j of a group holds
//         element j in its low nibble and element j+16 in its high nibble,
//         stored as q+8 with q in [-8, 7], value = q·scale (padding elements
//         are stored as 8, i.e. 0); scales as for Q8.
//   Codes and scales are exactly ggml's Q8_0 and Q4_0 blocks (gemma3/quant.hpp
//   has the rules), with the f16 scales moved out of the 32-element blocks so
//   the codes of a row are contiguous.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace gemma3 {

enum class WeightType : uint32_t { F32 = 0, BF16 = 1, Q8 = 2, Q4 = 3 };

constexpr size_t kQuantGroup = 32;  // elements per quantization group (Q8, Q4)

inline const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::F32: return "f32";
    case WeightType::BF16: return "bf16";
    case WeightType::Q8: return "q8";
    case WeightType::Q4: return "q4";
  }
  return "unknown";
}

inline bool is_quantized(WeightType t) { return t == WeightType::Q8 || t == WeightType::Q4; }

inline size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// Bytes of one row's quantized values (Q8/Q4), or of one row (F32/BF16).
inline size_t row_bytes(WeightType t, size_t cols) {
  const size_t groups = (cols + kQuantGroup - 1) / kQuantGroup;
  switch (t) {
    case WeightType::F32: return cols * 4;
    case WeightType::BF16: return cols * 2;
    case WeightType::Q8: return groups * kQuantGroup;
    case WeightType::Q4: return groups * kQuantGroup / 2;
  }
  return 0;
}

// Offset of the scales inside a Q8/Q4 tensor.
inline size_t scales_offset(WeightType t, size_t rows, size_t cols) {
  return align_up(rows * row_bytes(t, cols), 64);
}

// Total bytes of a [rows, cols] matrix of type t.
inline size_t matrix_bytes(WeightType t, size_t rows, size_t cols) {
  if (!is_quantized(t)) return rows * row_bytes(t, cols);
  const size_t groups = (cols + kQuantGroup - 1) / kQuantGroup;
  return scales_offset(t, rows, cols) + rows * groups * 2;
}

// A read-only view of a weight matrix in one of the four types.
struct MatView {
  WeightType type = WeightType::F32;
  size_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;  // matrix_bytes(type, rows, cols) bytes

  size_t groups_per_row() const { return (cols + kQuantGroup - 1) / kQuantGroup; }
  size_t row_stride() const { return row_bytes(type, cols); }
  const uint8_t* row(size_t r) const { return data + r * row_stride(); }
  // Q8/Q4 only: the groups_per_row() f16 scales of row r.
  const uint16_t* scales(size_t r) const {
    return reinterpret_cast<const uint16_t*>(data + scales_offset(type, rows, cols)) +
           r * groups_per_row();
  }
};

// ---- scalar number formats -------------------------------------------------

inline float bf16_to_f32(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;  // bf16 is the top half of an f32
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, as torch's .to(bfloat16) does; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  float mag;
  if (exp == 0) {
    mag = std::ldexp(float(man), -24);  // zero or subnormal
  } else if (exp == 31) {
    mag = man ? NAN : INFINITY;
  } else {
    mag = std::ldexp(float(man | 0x400u), int(exp) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &mag, 4);
  bits |= sign;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; overflow gives infinity.
inline uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  const float a = std::fabs(f);
  if (std::isnan(f)) return uint16_t(sign | 0x7e00u);
  if (a >= 65520.0f) return uint16_t(sign | 0x7c00u);  // rounds to infinity
  if (a < 6.103515625e-05f) {                          // subnormal range: multiples of 2^-24
    const float q = std::nearbyint(a * 16777216.0f);   // round-half-even by default
    return uint16_t(sign | uint16_t(q));
  }
  int e;
  const float m = std::frexp(a, &e);  // a = m·2^e, m in [0.5, 1)
  float mant = std::nearbyint((m * 2.0f - 1.0f) * 1024.0f);
  int exp = e - 1 + 15;
  if (mant >= 1024.0f) {
    mant = 0.0f;
    ++exp;
  }
  if (exp >= 31) return uint16_t(sign | 0x7c00u);
  return uint16_t(sign | uint16_t(exp << 10) | uint16_t(mant));
}

}  // namespace gemma3
