// gemma3/quant.hpp — reference (scalar) conversion of f32 matrices into the
// four weight types of gemma3/tensor.hpp, and back, one row at a time.
//
// Q8/Q4, per row and per 32-element group (spec of the layout: tensor.hpp):
//   scale = f16(max|x| / qmax)           qmax = 127 (Q8) or 7 (Q4)
//   q     = round(x / scale)  (half to even, like torch.round; the f16-rounded
//           scale is used, and q is clamped to [−qmax, qmax])
//   value = q · scale
// A group of zeros (or one whose scale rounds to 0 in f16) has scale 0, q 0.
// Round-trip error per element: |x − q·scale| ≤ scale/2·(1 + 2⁻¹⁶), or
// ≤ qmax·2⁻²⁵ when the scale is an f16 subnormal (tests/test_quant.cpp
// derives and checks this).
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

// Scale and codes of one group of `count` ≤ 32 values (the rest are padding).
inline uint16_t quantize_group(const float* x, size_t count, int qmax, int8_t* q, size_t row,
                               size_t col0) {
  float amax = 0.0f;
  for (size_t k = 0; k < count; ++k) {
    if (!std::isfinite(x[k])) {
      throw Error("quantize_matrix: row " + std::to_string(row) + ", column " +
                  std::to_string(col0 + k) + ": value is not finite");
    }
    amax = std::fabs(x[k]) > amax ? std::fabs(x[k]) : amax;
  }
  const uint16_t scale_bits = f32_to_f16(amax / float(qmax));
  const float scale = f16_to_f32(scale_bits);
  if (std::isinf(scale)) {
    throw Error("quantize_matrix: row " + std::to_string(row) + ", columns from " +
                std::to_string(col0) + ": |value| " + std::to_string(amax) +
                " too large for an f16 group scale");
  }
  for (size_t k = 0; k < kQuantGroup; ++k) {
    float v = 0.0f;
    if (k < count && scale > 0.0f) {
      v = std::nearbyint(x[k] / scale);
      v = v > float(qmax) ? float(qmax) : (v < -float(qmax) ? -float(qmax) : v);
    }
    q[k] = static_cast<int8_t>(v);
  }
  return scale > 0.0f ? scale_bits : uint16_t(0);
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
      const int qmax = t == WeightType::Q8 ? 127 : 7;
      const size_t groups = (cols + kQuantGroup - 1) / kQuantGroup;
      const size_t rb = row_bytes(t, cols);
      const size_t soff = scales_offset(t, rows, cols);
      std::memset(dst + rows * rb, 0, soff - rows * rb);  // padding before the scales
      int8_t q[kQuantGroup];
      for (size_t r = 0; r < rows; ++r) {
        for (size_t g = 0; g < groups; ++g) {
          const size_t c0 = g * kQuantGroup;
          const size_t count = cols - c0 < kQuantGroup ? cols - c0 : kQuantGroup;
          const uint16_t s = detail::quantize_group(src + r * cols + c0, count, qmax, q, r, c0);
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
