// Number formats and quantization: the scalar conversions of
// gemma3/tensor.hpp and the vector ones of gemma3/ops on all 65536 bit
// patterns against an independent reference, and quantize_matrix /
// dequantize_row against the layout of tensor.hpp with a derived error bound.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gemma3/ops/vector.hpp"
#include "gemma3/quant.hpp"

using namespace gemma3;

namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// IEEE binary16 by definition: (−1)^s · 2^(e−15) · 1.m, or 2^−14 · 0.m when e = 0.
double f16_reference(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 31) {
    v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (e == 0) {
    v = m * std::pow(2.0, -24);
  } else {
    v = (1024 + m) * std::pow(2.0, e - 25);
  }
  return s ? -v : v;
}

// bfloat16 by definition: 8 exponent bits (bias 127), 7 mantissa bits.
double bf16_reference(uint16_t h) {
  const int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
  double v;
  if (e == 255) {
    v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (e == 0) {
    v = m * std::pow(2.0, -133);
  } else {
    v = (128 + m) * std::pow(2.0, e - 134);
  }
  return s ? -v : v;
}

bool same(float got, double want) {
  if (std::isnan(want)) return std::isnan(got);
  return double(got) == want && std::signbit(got) == std::signbit(want);
}

template <class F>
void for_each_target(const char* what, F f) {
  std::string ran;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(t);
    const std::string name = hwy::TargetName(t);
    INFO("target " << name);
    f();
    ran += " " + name;
  }
  hwy::SetSupportedTargetsForTest(0);
  std::printf("%s: ran on%s\n", what, ran.c_str());
}

}  // namespace

TEST_CASE("f16 and bf16 → f32: all 65536 patterns, scalar and vector") {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
  size_t bad16 = 0, badbf = 0;
  for (uint16_t h : all) {
    bad16 += !same(f16_to_f32(h), f16_reference(h));
    badbf += !same(bf16_to_f32(h), bf16_reference(h));
  }
  CHECK(bad16 == 0);
  CHECK(badbf == 0);
  for_each_target("f16/bf16 vector conversion", [&] {
    std::vector<float> out(all.size());
    // odd length and offset so the vector tail code runs too
    ops::f16_to_f32(all.data() + 1, out.data(), all.size() - 1);
    size_t bad = 0;
    for (size_t i = 1; i < all.size(); ++i) bad += !same(out[i - 1], f16_reference(all[i]));
    CHECK(bad == 0);
    ops::bf16_to_f32(all.data() + 1, out.data(), all.size() - 1);
    bad = 0;
    for (size_t i = 1; i < all.size(); ++i) bad += !same(out[i - 1], bf16_reference(all[i]));
    CHECK(bad == 0);
  });
}

TEST_CASE("f32 → f16 and f32 → bf16: round trip, ties to even, overflow") {
  // Every finite pattern converts back to itself.
  size_t bad = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = uint16_t(i);
    if (((h >> 10) & 31) != 31) bad += f32_to_f16(f16_to_f32(h)) != h;
    if (((h >> 7) & 255) != 255) bad += f32_to_bf16(bf16_to_f32(h)) != h;
  }
  CHECK(bad == 0);
  // Midpoints between neighbours go to the even one; a hair above/below goes
  // to the nearer one. (Midpoints of 11- and 8-bit significands are exact f32.)
  bad = 0;
  for (uint32_t i = 0; i < 0x7bff; ++i) {  // positive finite f16, up to the largest
    const uint16_t lo = uint16_t(i), hi = uint16_t(i + 1);
    const float mid = float((f16_reference(lo) + f16_reference(hi)) / 2);
    bad += f32_to_f16(mid) != ((lo & 1) ? hi : lo);
    bad += f32_to_f16(std::nextafter(mid, 0.0f)) != lo;
    bad += f32_to_f16(std::nextafter(mid, 1e9f)) != hi;
    bad += f32_to_f16(-mid) != uint16_t(((lo & 1) ? hi : lo) | 0x8000);
  }
  for (uint32_t i = 0; i < 0x7f7f; ++i) {
    const uint16_t lo = uint16_t(i), hi = uint16_t(i + 1);
    const float mid = float((bf16_reference(lo) + bf16_reference(hi)) / 2);
    bad += f32_to_bf16(mid) != ((lo & 1) ? hi : lo);
    bad += f32_to_bf16(std::nextafter(mid, 0.0f)) != lo;
    bad += f32_to_bf16(std::nextafter(mid, std::numeric_limits<float>::infinity())) != hi;
  }
  CHECK(bad == 0);
  CHECK(f32_to_f16(65519.99f) == 0x7bff);  // below the midpoint to 2^16
  CHECK(f32_to_f16(65520.0f) == 0x7c00);   // the midpoint rounds to even = inf
  CHECK(f32_to_f16(1e10f) == 0x7c00);
  CHECK(f32_to_f16(-1e10f) == 0xfc00);
  CHECK(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  CHECK(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds up to inf
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST_CASE("vector f32 → bf16 equals the scalar conversion") {
  std::mt19937 rng(11);
  std::vector<float> in;
  for (int i = 0; i < (1 << 18); ++i) in.push_back(from_bits(uint32_t(rng())));
  for (uint32_t b : {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u,
                     0xffffffffu, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0x00008000u})
    in.push_back(from_bits(b));
  in.push_back(1.0f);  // odd length: tail path
  for_each_target("f32 -> bf16 vector conversion", [&] {
    std::vector<uint16_t> out(in.size());
    ops::f32_to_bf16(in.data(), out.data(), in.size());
    size_t bad = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const uint16_t want = f32_to_bf16(in[i]);
      // NaN: any quiet NaN with the same sign is fine
      if (std::isnan(in[i])) {
        bad += !(std::isnan(bf16_to_f32(out[i])) && (out[i] >> 15) == (want >> 15));
      } else {
        bad += out[i] != want;
      }
    }
    CHECK(bad == 0);
  });
}

namespace {

// Checks the bytes of a quantized matrix against tensor.hpp's layout, ggml's
// Q8_0 / Q4_0 definitions (quant.hpp) and the round-trip bound; returns the
// largest error / |d| seen over groups with a normal scale.
double check_quantized(WeightType t, const std::vector<float>& x, size_t rows, size_t cols) {
  const bool q8 = t == WeightType::Q8;
  std::vector<uint8_t> buf(matrix_bytes(t, rows, cols), 0xAB);  // junk: all must be written
  quantize_matrix(t, x.data(), rows, cols, buf.data());
  MatView W;
  W.type = t;
  W.rows = rows;
  W.cols = cols;
  W.data = buf.data();
  const size_t groups = W.groups_per_row();
  const size_t soff = scales_offset(t, rows, cols);
  CHECK(soff % 64 == 0);
  for (size_t i = rows * row_bytes(t, cols); i < soff; ++i) CHECK(buf[i] == 0);
  std::vector<float> out(cols);
  double worst = 0;
  size_t bad = 0;
  for (size_t r = 0; r < rows; ++r) {
    dequantize_row(W, r, out.data());
    for (size_t g = 0; g < groups; ++g) {
      const size_t c0 = g * kQuantGroup;
      // d: Q8_0 max|x|/127; Q4_0 the first value of largest magnitude / −8
      float amax = 0, m = 0;
      for (size_t c = c0; c < cols && c < c0 + kQuantGroup; ++c)
        if (std::fabs(x[r * cols + c]) > amax)
          amax = std::fabs(x[r * cols + c]), m = x[r * cols + c];
      const float d = q8 ? amax / 127.0f : m / -8.0f;
      uint16_t sbits;
      std::memcpy(&sbits, buf.data() + soff + 2 * (r * groups + g), 2);
      const float s = f16_to_f32(sbits);
      bad += sbits != f32_to_f16(d);
      const bool normal = std::fabs(s) >= 6.103515625e-05f;
      for (size_t k = 0; k < kQuantGroup; ++k) {
        const size_t c = c0 + k;
        // the stored code, decoded by hand from the layout
        int q;
        if (q8) {
          q = int8_t(buf[r * row_bytes(t, cols) + c]);
        } else {
          const uint8_t b = buf[r * row_bytes(t, cols) + g * 16 + k % 16];
          q = (k < 16 ? (b & 15) : (b >> 4)) - 8;
        }
        bad += q < (q8 ? -127 : -8) || q > (q8 ? 127 : 7);
        if (c >= cols) {
          bad += q != 0;  // padding decodes to 0
          continue;
        }
        bad += out[c] != float(q) * s;  // dequantize_row = q·scale exactly
        if (!normal) continue;
        // ggml's codes: Q8_0 roundf(x·(1/d)); Q4_0 min(15, trunc(x·(1/d) + 8.5)) − 8
        const float v = x[r * cols + c] * (1.0f / d);
        bad += q != (q8 ? int(std::round(v)) : std::min(15, int(v + 8.5f)) - 8);
        if (!q8 && x[r * cols + c] == m) bad += q != -8;  // the extreme is exactly −8·d
        // Round-trip bound (quant.hpp): rounding ≤ |d|/2 (Q8) or the one-sided
        // clamp ≤ |d| (Q4), f32 rounding of x·(1/d) ≤ 2⁻¹⁶·|d|, and the f16
        // rounding of the scale ≤ qmax·|d − s|.
        const double err = std::fabs(double(x[r * cols + c]) - double(out[c]));
        const double ad = std::fabs(double(d));
        const double tol = (q8 ? 0.5 : 1.0) * ad * (1 + std::ldexp(1.0, -16)) +
                           (q8 ? 127 : 8) * std::fabs(double(d) - double(s));
        bad += !(err <= tol);
        worst = std::max(worst, err / ad);
      }
    }
  }
  CHECK(bad == 0);
  return worst;
}

}  // namespace

TEST_CASE("quantize_matrix / dequantize_row: ggml Q8_0 / Q4_0 rules, layout and bound") {
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  const size_t shapes[][2] = {{1, 1},  {3, 31},  {2, 32},   {4, 33},
                              {5, 48}, {3, 112}, {2, 4304}, {7, 100}};
  for (WeightType t : {WeightType::Q8, WeightType::Q4}) {
    const std::string type = weight_type_name(t);
    CAPTURE(type);
    double worst = 0;
    for (const auto& sh : shapes) {
      const size_t rows = sh[0], cols = sh[1];
      CAPTURE(cols);
      std::vector<float> x(rows * cols);
      for (size_t i = 0; i < x.size(); ++i) {
        // magnitudes from 1e-9 (subnormal f16 scales) to 1e3, per group
        const size_t r = i / cols, g = (i % cols) / kQuantGroup;
        const float mag = std::pow(10.0f, float(int((r + g) % 13)) - 9.0f);
        x[i] = uni(rng) * mag;
      }
      if (cols >= 40) {
        for (size_t c = 0; c < 32; ++c) x[c] = 0.0f;  // an all-zero group
        x[32] = 1.0f;                                 // a group with one value
        for (size_t c = 33; c < std::min<size_t>(cols, 64); ++c) x[c] = 0.0f;
      }
      if (cols >= 100) {  // a group holding both +m and −m: Q4_0 stores +m as 7·d
        x[64] = 2.0f;
        x[65] = -2.0f;
      }
      worst = std::max(worst, check_quantized(t, x, rows, cols));
    }
    MESSAGE(type << ": worst |x - q*s| / |d| = " << worst);
    if (t == WeightType::Q8) {
      CHECK(worst <= 0.5 + 127 * std::ldexp(1.0, -11));
      CHECK(worst >= 0.4);  // the bound is tight: random data comes close to d/2
    } else {
      CHECK(worst >= 0.99);  // the +m of the ±m group: one whole step
      CHECK(worst <= 1.0 + 8 * std::ldexp(1.0, -11));
    }
  }
  // F32 and BF16 round trips
  std::vector<float> x(3 * 5);
  for (auto& v : x) v = uni(rng);
  for (WeightType t : {WeightType::F32, WeightType::BF16}) {
    std::vector<uint8_t> buf(matrix_bytes(t, 3, 5));
    quantize_matrix(t, x.data(), 3, 5, buf.data());
    MatView W{t, 3, 5, buf.data()};
    std::vector<float> out(5);
    for (size_t r = 0; r < 3; ++r) {
      dequantize_row(W, r, out.data());
      for (size_t c = 0; c < 5; ++c) {
        const float want =
            t == WeightType::F32 ? x[r * 5 + c] : bf16_to_f32(f32_to_bf16(x[r * 5 + c]));
        CHECK(out[c] == want);
      }
    }
  }
}

TEST_CASE("quantize_matrix: bad input throws gemma3::Error") {
  std::vector<float> x(40, 1.0f);
  std::vector<uint8_t> buf(matrix_bytes(WeightType::Q8, 1, 40));
  x[35] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(quantize_matrix(WeightType::Q8, x.data(), 1, 40, buf.data()), gemma3::Error);
  x[35] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(quantize_matrix(WeightType::Q4, x.data(), 1, 40, buf.data()), gemma3::Error);
  x[35] = 1e8f;  // max/127 > 65504: no f16 scale
  CHECK_THROWS_AS(quantize_matrix(WeightType::Q8, x.data(), 1, 40, buf.data()), gemma3::Error);
  try {
    quantize_matrix(WeightType::Q8, x.data(), 1, 40, buf.data());
  } catch (const gemma3::Error& e) {
    CHECK(std::string(e.what()).find("row 0") != std::string::npos);
  }
  MatView W{static_cast<WeightType>(9), 1, 1, buf.data()};
  float out;
  CHECK_THROWS_AS(dequantize_row(W, 0, &out), gemma3::Error);
  CHECK_THROWS_AS(quantize_matrix(static_cast<WeightType>(9), x.data(), 1, 1, buf.data()),
                  gemma3::Error);
}
