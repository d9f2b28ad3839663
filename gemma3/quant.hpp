// gemma3/quant.hpp — reference (scalar) conversion of f32 matrices into the
// four weight types of gemma3/tensor.hpp, and back, one row at a time.
//
// Q8 and Q4 are ggml's Q8_0 and Q4_0, value for value (format version 2): the
// same codes and the same f16 scale d per 32-element group, only laid out
// with the scales apart from the codes (tensor.hpp). Per group:
//   Q8 (= Q8_0): d = max|x| / 127,  q = roundf(x · (1/d))         (half away from 0)
//   Q4 (= Q4_0): d = m / −8 with m the value of largest magnitude (the first
//                one on ties), q = min(7, ⌊x · (1/d) + 8.5⌋ − 8)   (half up)
//   stored scale s = f16(d) (to nearest even); value = q · s.
// As in ggml, 1/d is taken of the unrounded f32 d, not of s. Q4's d is signed
// and the group's extreme gets q = −8 exactly, so a group that already lies on
// a Q4_0 grid (q·s, q in [−8, 7], with −8 present) — what quantization-aware-
// trained weights are — converts with no error. A group of zeros has s = 0.
// Round-trip error per element, s normal (tests/test_quant.cpp derives it):
//   Q8 |x − q·s| ≤ |d|/2·(1 + 2⁻¹⁶) + 127·|d − s|,   |d − s| ≤ 2⁻¹¹·|d|
//   Q4 |x − q·s| ≤ |d|      ·(1 + 2⁻¹⁶) +   8·|d − s|  (a group holding both ±m
//      stores +m as 7·d: Q4_0's one-sided range)
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "gemma3/error.hpp"
#include "gemma3/tensor.hpp"

namespace gemma3 {

namespace detail {

// Scale and codes of one group of `count` ≤ 32 values (the rest are padding,
// coded 0), by ggml's Q8_0 / Q4_0 rule (header comment).
inline uint16_t quantize_group(WeightType t, const float* x, size_t count, int8_t* q, size_t row,
                               size_t col0) {
  float amax = 0.0f, m = 0.0f;
  for (size_t k = 0; k < count; ++k) {
    if (!std::isfinite(x[k])) {
      throw Error("quantize_matrix: row " + std::to_string(row) + ", column " +
                  std::to_string(col0 + k) + ": value is not finite");
    }
    if (std::fabs(x[k]) > amax) amax = std::fabs(x[k]), m = x[k];
  }
  const float d = t == WeightType::Q8 ? amax / 127.0f : m / -8.0f;
  const uint16_t scale_bits = f32_to_f16(d);
  if (std::isinf(f16_to_f32(scale_bits))) {
    throw Error("quantize_matrix: row " + std::to_string(row) + ", columns from " +
                std::to_string(col0) + ": |value| " + std::to_string(amax) +
                " too large for an f16 group scale");
  }
  // 1/d overflows only for |d| < 2⁻¹²⁶, whose f16 scale is 0 anyway: code 0
  // there (ggml's codes are undefined then; such a group decodes to 0 either way).
  const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;
  for (size_t k = 0; k < kQuantGroup; ++k) {
    const float v = k < count ? x[k] * id : 0.0f;
    if (t == WeightType::Q8) {
      q[k] = static_cast<int8_t>(std::round(v));  // |v| ≤ 127·(1 + 2⁻²³): no clamp needed
    } else {
      const int c = static_cast<int>(v + 8.5f);  // v ≥ −8(1 + 2⁻²³): ≥ 0, so truncation = floor
      q[k] = static_cast<int8_t>((c < 15 ? c : 15) - 8);
    }
  }
  return scale_bits;
}

}  // namespace detail

// Writes src [rows, cols] (f32, row-major) in type t to dst, which must hold
// matrix_bytes(t, rows, cols) bytes (every byte is written, padding too).
// Throws gemma3::Error for a non-finite value or one too large for an f16
// scale (Q8/Q4).
inline void quantize_matrix(WeightType t, const float* src, size_t rows, size_t cols,
                            uint8_t* dst) {
  switch (t) {
    case WeightType::F32: std::memcpy(dst, src, rows * cols * sizeof(float)); return;
    case WeightType::BF16:
      for (size_t i = 0; i < rows * cols; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case WeightType::Q8:
    case WeightType::Q4: {
      const size_t groups = (cols + kQuantGroup - 1) / kQuantGroup;
      const size_t rb = row_bytes(t, cols);
      const size_t soff = scales_offset(t, rows, cols);
      std::memset(dst + rows * rb, 0, soff - rows * rb);  // padding before the scales
      int8_t q[kQuantGroup];
      for (size_t r = 0; r < rows; ++r) {
        for (size_t g = 0; g < groups; ++g) {
          const size_t c0 = g * kQuantGroup;
          const size_t count = cols - c0 < kQuantGroup ? cols - c0 : kQuantGroup;
          const uint16_t s = detail::quantize_group(t, src + r * cols + c0, count, q, r, c0);
          std::memcpy(dst + soff + (r * groups + g) * 2, &s, 2);
          if (t == WeightType::Q8) {
            std::memcpy(dst + r * rb + c0, q, kQuantGroup);
          } else {
            uint8_t* b = dst + r * rb + g * (kQuantGroup / 2);
            for (size_t j = 0; j < kQuantGroup / 2; ++j) {
              // byte j: element j in the low nibble, element j+16 in the high one
              b[j] = uint8_t((q[j] + 8) | ((q[j + 16] + 8) << 4));
            }
          }
        }
      }
      return;
    }
  }
  throw Error("quantize_matrix: unknown weight type " + std::to_string(uint32_t(t)));
}

// out[c] = W[r, c] as f32 for c < W.cols (exact: the stored value, or q·scale).
inline void dequantize_row(const MatView& W, size_t r, float* out) {
  const uint8_t* row = W.row(r);
  switch (W.type) {
    case WeightType::F32: std::memcpy(out, row, W.cols * sizeof(float)); return;
    case WeightType::BF16:
      for (size_t c = 0; c < W.cols; ++c) {
        uint16_t h;
        std::memcpy(&h, row + 2 * c, 2);
        out[c] = bf16_to_f32(h);
      }
      return;
    case WeightType::Q8:
    case WeightType::Q4: {
      const uint8_t* sp = reinterpret_cast<const uint8_t*>(W.scales(r));
      for (size_t c = 0; c < W.cols; ++c) {
        const size_t g = c / kQuantGroup, k = c % kQuantGroup;
        uint16_t s;
        std::memcpy(&s, sp + 2 * g, 2);
        int q;
        if (W.type == WeightType::Q8) {
          q = static_cast<int8_t>(row[c]);
        } else {
          const uint8_t b = row[g * (kQuantGroup / 2) + k % 16];
          q = int(k < 16 ? (b & 0x0F) : (b >> 4)) - 8;
        }
        out[c] = float(q) * f16_to_f32(s);
      }
      return;
    }
  }
  throw Error("dequantize_row: unknown weight type " + std::to_string(uint32_t(W.type)));
}

}  // namespace gemma3
