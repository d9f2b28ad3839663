// gemma3/detail/image_resample.hpp — Pillow's BILINEAR resampling, bit-exact
// for 8-bit RGB (used by gemma3::resize_bilinear in gemma3/image.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gemma3/image_types.hpp"

namespace gemma3 {

// ---------------------------------------------------------------------------
// Pillow's BILINEAR resize (Image.resize(..., BILINEAR, reducing_gap=None)),
// bit-exact for 8-bit RGB. Spec §4.1: separable, antialiased (the triangle is
// stretched by the downscale factor), fixed-point weights with 22 fraction
// bits, horizontal pass first into a uint8 image, then vertical.
namespace detail {

constexpr int kPrecisionBits = 32 - 8 - 2;

// Per output index: first source index, number of taps, and `ksize` weights.
struct ResampleCoeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weight;  // [out_size * ksize]
};

inline ResampleCoeffs bilinear_coeffs(int in_size, int out_size) {
  // Pillow computes the box width in float, the rest in double.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // bilinear support is 1
  ResampleCoeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weight.assign(std::size_t(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // trunc, as in C
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    const int n = xmax - xmin;
    double sum = 0.0;
    for (int x = 0; x < n; ++x) {
      double t = (x + xmin - center + 0.5) * ss;
      if (t < 0.0) t = -t;
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      sum += w[x];
    }
    for (int x = 0; x < n; ++x) {
      const double k = sum != 0.0 ? w[x] / sum : w[x];
      // Fixed point, rounding half away from zero (weights are never negative).
      c.weight[std::size_t(xx) * c.ksize + x] =
          static_cast<std::int32_t>(0.5 + k * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = n;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t acc) {
  const std::int32_t v = acc >> kPrecisionBits;  // acc >= 0 for bilinear weights
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

inline Image resample_horizontal(const Image& in, int out_w) {
  const ResampleCoeffs c = bilinear_coeffs(in.width, out_w);
  Image out;
  out.width = out_w;
  out.height = in.height;
  out.rgb.resize(std::size_t(out_w) * in.height * 3);
  for (int y = 0; y < in.height; ++y) {
    const std::uint8_t* src = in.rgb.data() + std::size_t(y) * in.width * 3;
    std::uint8_t* dst = out.rgb.data() + std::size_t(y) * out_w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const std::int32_t* k = c.weight.data() + std::size_t(xx) * c.ksize;
      const std::uint8_t* s = src + std::size_t(c.first[xx]) * 3;
      std::int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
      for (int x = 0; x < c.count[xx]; ++x) {
        r += s[3 * x + 0] * k[x];
        g += s[3 * x + 1] * k[x];
        b += s[3 * x + 2] * k[x];
      }
      dst[3 * xx + 0] = clip8(r);
      dst[3 * xx + 1] = clip8(g);
      dst[3 * xx + 2] = clip8(b);
    }
  }
  return out;
}

inline Image resample_vertical(const Image& in, int out_h) {
  const ResampleCoeffs c = bilinear_coeffs(in.height, out_h);
  Image out;
  out.width = in.width;
  out.height = out_h;
  const std::size_t row = std::size_t(in.width) * 3;
  out.rgb.resize(row * out_h);
  // Row-at-a-time accumulation: same integer sums as Pillow's per-pixel loop
  // (integer addition is exact), but streams through memory.
  std::vector<std::int32_t> acc(row);
  for (int yy = 0; yy < out_h; ++yy) {
    const std::int32_t* k = c.weight.data() + std::size_t(yy) * c.ksize;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < c.count[yy]; ++y) {
      const std::uint8_t* s = in.rgb.data() + std::size_t(c.first[yy] + y) * row;
      const std::int32_t ky = k[y];
      for (std::size_t i = 0; i < row; ++i) acc[i] += s[i] * ky;
    }
    std::uint8_t* dst = out.rgb.data() + std::size_t(yy) * row;
    for (std::size_t i = 0; i < row; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace detail

}  // namespace gemma3
