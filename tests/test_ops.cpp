// Kernels of gemma3/ops vs plain scalar references (double accumulation), on
// every Highway target this CPU supports, with odd sizes.
//
// Tolerances, u = 2⁻²⁴ (f32 unit roundoff):
//  * A sum of n f32 terms, in any order and with or without FMA, is within
//    n·u·Σ|term| of the exact sum (Higham, γ_n, to first order). That bound
//    is loose for large n, so every product kernel is ALSO run on integer
//    data whose sums are exact in f32 (all partial sums are integers below
//    2²⁴): there the result must match the reference exactly, which catches
//    any dropped, repeated or misplaced element.
//  * Element-wise kernels: the bound is derived next to each test.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "gemma3/ops/ops.hpp"
#include "gemma3/ops/targets.hpp"
#include "gemma3/quant.hpp"

using namespace gemma3;

namespace {

constexpr double kU = 1.0 / 16777216.0;  // 2^-24

// Runs f once per Highway target that this CPU supports and this build
// generated, with dispatch forced to that target.
template <class F>
void for_each_target(const char* what, F f) {
  std::string ran;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(t);
    REQUIRE(std::string(ops::active_target_name()) == hwy::TargetName(t));
    const std::string name = hwy::TargetName(t);
    INFO("target " << name);
    f();
    ran += std::string(" ") + hwy::TargetName(t);
  }
  hwy::SetSupportedTargetsForTest(0);
  std::printf("%s: ran on%s\n", what, ran.c_str());
}

const size_t kSizes[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 63, 65, 100, 255, 257, 1000, 4304};

std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<float> random_ints(std::mt19937& rng, size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = float(dist(rng));
  return v;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}

// A [rows, cols] matrix of type t from f32 values, with its exact f32 values
// (dequantized) for the reference.
struct TestMatrix {
  std::vector<uint8_t> bytes;
  MatView view;
  std::vector<float> values;  // [rows, cols], exactly what the matrix holds
};

TestMatrix make_matrix(WeightType t, const std::vector<float>& src, size_t rows, size_t cols) {
  TestMatrix m;
  m.bytes.resize(matrix_bytes(t, rows, cols) + 1);
  quantize_matrix(t, src.data(), rows, cols, m.bytes.data());
  m.view.type = t;
  m.view.rows = rows;
  m.view.cols = cols;
  m.view.data = m.bytes.data();
  m.values.resize(rows * cols);
  for (size_t r = 0; r < rows; ++r) dequantize_row(m.view, r, m.values.data() + r * cols);
  return m;
}

// Overwrites the padding of the last group of every row (Q8/Q4) with junk:
// the kernels must never use it as a weight.
void scramble_padding(TestMatrix& m, std::mt19937& rng) {
  const MatView& W = m.view;
  if (!is_quantized(W.type) || W.cols % kQuantGroup == 0) return;
  const size_t g = W.groups_per_row() - 1;
  for (size_t r = 0; r < W.rows; ++r) {
    uint8_t* row = m.bytes.data() + r * W.row_stride();
    for (size_t c = W.cols; c < (g + 1) * kQuantGroup; ++c) {
      const size_t k = c % kQuantGroup;
      if (W.type == WeightType::Q8) {
        row[c] = uint8_t(rng() % 255);
      } else {
        uint8_t& b = row[g * 16 + k % 16];
        const uint8_t nib = uint8_t(rng() % 16);
        b = k < 16 ? uint8_t((b & 0xF0) | nib) : uint8_t((b & 0x0F) | (nib << 4));
      }
    }
  }
}

// Values v[i] = q[i]·2^e per 32-group whose first value is the extreme code
// (Q8 127, Q4 −8): quantize_matrix (Q8_0 / Q4_0 rules) represents them exactly
// (scale 2^e), so all sums below are exact.
std::vector<float> exact_weights(std::mt19937& rng, WeightType t, size_t rows, size_t cols) {
  const bool q4 = t == WeightType::Q4;
  std::vector<float> v = random_ints(rng, rows * cols, q4 ? -8 : -127, q4 ? 7 : 127);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c0 = 0; c0 < cols; c0 += kQuantGroup) {
      const float scale = float(1 << (rng() % 3));  // 1, 2, 4
      v[r * cols + c0] = q4 ? -8.0f : 127.0f;
      for (size_t c = c0; c < cols && c < c0 + kQuantGroup; ++c) v[r * cols + c] *= scale;
    }
  }
  return v;
}

const WeightType kTypes[] = {WeightType::F32, WeightType::BF16, WeightType::Q8, WeightType::Q4};

}  // namespace

TEST_CASE("dot and dot_rows, f32 and bf16") {
  std::mt19937 rng(1);
  for_each_target("dot", [&] {
    for (size_t n : kSizes) {
      CAPTURE(n);
      const auto a = random_floats(rng, n);
      const auto b = random_floats(rng, n);
      const auto b16 = to_bf16(b);
      double ref = 0, ref16 = 0, mag = 0, mag16 = 0;
      for (size_t i = 0; i < n; ++i) {
        ref += double(a[i]) * b[i];
        ref16 += double(a[i]) * bf16_to_f32(b16[i]);
        mag += std::fabs(double(a[i]) * b[i]);
        mag16 += std::fabs(double(a[i]) * bf16_to_f32(b16[i]));
      }
      CHECK(std::fabs(ops::dot(a.data(), b.data(), n) - ref) <= n * kU * mag);
      CHECK(std::fabs(ops::dot(a.data(), b16.data(), n) - ref16) <= n * kU * mag16);

      // exact: integers in [-8, 8], |partial sums| ≤ 64·4304 < 2^24
      const auto ia = random_ints(rng, n, -8, 8);
      const auto ib = random_ints(rng, n, -8, 8);
      const auto ib16 = to_bf16(ib);
      double iref = 0;
      for (size_t i = 0; i < n; ++i) iref += double(ia[i]) * ib[i];
      CHECK(ops::dot(ia.data(), ib.data(), n) == float(iref));
      CHECK(ops::dot(ia.data(), ib16.data(), n) == float(iref));
    }
    // dot_rows: strided rows, each bitwise equal to dot()
    const size_t n = 72, stride = 80, count = 9;
    const auto q = random_floats(rng, n);
    const auto K = random_floats(rng, stride * count);
    const auto K16 = to_bf16(K);
    std::vector<float> out(count), out16(count);
    ops::dot_rows(q.data(), K.data(), stride, count, n, out.data());
    ops::dot_rows(q.data(), K16.data(), stride, count, n, out16.data());
    for (size_t j = 0; j < count; ++j) {
      CHECK(out[j] == ops::dot(q.data(), K.data() + j * stride, n));
      CHECK(out16[j] == ops::dot(q.data(), K16.data() + j * stride, n));
    }
  });
}

TEST_CASE("axpy, weighted_sum, scale, add") {
  std::mt19937 rng(2);
  for_each_target("axpy", [&] {
    for (size_t n : kSizes) {
      CAPTURE(n);
      const auto x = random_floats(rng, n);
      const auto x16 = to_bf16(x);
      const auto y0 = random_floats(rng, n);
      const float alpha = 0.75f;
      auto y = y0, y16 = y0;
      ops::axpy(alpha, x.data(), y.data(), n);
      ops::axpy(alpha, x16.data(), y16.data(), n);
      for (size_t i = 0; i < n; ++i) {
        // one FMA (1 rounding) or mul + add (2 roundings): ≤ 2u·(|αx| + |y|)
        const double r = double(y0[i]) + double(alpha) * x[i];
        const double r16 = double(y0[i]) + double(alpha) * bf16_to_f32(x16[i]);
        CHECK(std::fabs(y[i] - r) <= 2 * kU * (std::fabs(alpha * x[i]) + std::fabs(y0[i])));
        CHECK(std::fabs(y16[i] - r16) <=
              2 * kU * (std::fabs(alpha * x[i]) + std::fabs(y0[i])) + 1e-30);
      }
      // scale and add are single roundings: equal to the scalar f32 ops.
      auto s = x;
      ops::scale(alpha, s.data(), n);
      auto a = y0;
      ops::add_into(x.data(), a.data(), n);
      for (size_t i = 0; i < n; ++i) {
        CHECK(s[i] == alpha * x[i]);
        CHECK(a[i] == y0[i] + x[i]);
      }
    }
    // weighted_sum: out[i] = Σ_j p_j·V[j, i], a sum of `count` terms per i.
    for (size_t count : {1, 5, 33}) {
      const size_t n = 37, stride = 40;
      const auto p = random_floats(rng, count, 0.0f, 1.0f);
      const auto V = random_floats(rng, stride * count);
      const auto V16 = to_bf16(V);
      std::vector<float> out(n), out16(n);
      ops::weighted_sum(p.data(), V.data(), stride, count, n, out.data());
      ops::weighted_sum(p.data(), V16.data(), stride, count, n, out16.data());
      for (size_t i = 0; i < n; ++i) {
        double r = 0, r16 = 0, mag = 0;
        for (size_t j = 0; j < count; ++j) {
          r += double(p[j]) * V[j * stride + i];
          r16 += double(p[j]) * bf16_to_f32(V16[j * stride + i]);
          mag += std::fabs(double(p[j]) * V[j * stride + i]) * 1.01;
        }
        CHECK(std::fabs(out[i] - r) <= (count + 1) * kU * mag);
        CHECK(std::fabs(out16[i] - r16) <= (count + 1) * kU * mag);
      }
    }
  });
}

// The documented Q8/Q4 matvec (gemma3/ops/matmul.hpp): x quantized per
// 32-group, dx = f32(amax/127), xq = round_half_even(x/dx); y = Σ_g c_g·I_g
// with c_g = f32(scale_g·dx_g), I_g = Σ q·xq exact. Returns the exact value of
// that formula (double), the magnitude Σ_g |c_g|·Σ_k |q_k·xq_k| its f32 sum
// is within (cols + 2)·u of, and the bound Σ_k |w_k|·dx_g/2 on how far the
// quantization of x moves it from the f32 product Σ w·x.
struct QuantRef {
  double value = 0, mag = 0, xerr = 0;
};

QuantRef quant_ref(const MatView& W, const float* x, size_t r) {
  QuantRef out;
  const uint8_t* row = W.row(r);
  for (size_t g = 0; g < W.groups_per_row(); ++g) {
    float xs[32] = {}, amax = 0.0f;
    for (size_t k = 0; k < 32 && g * 32 + k < W.cols; ++k) {
      xs[k] = x[g * 32 + k];
      amax = std::max(amax, std::fabs(xs[k]));
    }
    const float dx = amax / 127.0f;
    const float c = f16_to_f32(W.scales(r)[g]) * dx;
    int64_t I = 0, Iabs = 0;
    double wabs = 0;
    for (size_t k = 0; k < 32 && g * 32 + k < W.cols; ++k) {
      const int xq = dx > 0 ? int(std::nearbyint(xs[k] / dx)) : 0;
      int q;
      if (W.type == WeightType::Q8) {
        q = int8_t(row[g * 32 + k]);
      } else {
        const uint8_t b = row[g * 16 + k % 16];
        q = int(k < 16 ? (b & 0xF) : (b >> 4)) - 8;
      }
      I += int64_t(q) * xq;
      Iabs += std::abs(int64_t(q) * xq);
      wabs += std::fabs(double(q) * f16_to_f32(W.scales(r)[g]));
    }
    out.value += double(c) * double(I);
    out.mag += std::fabs(double(c)) * double(Iabs);
    out.xerr += wabs * dx / 2;
  }
  return out;
}

TEST_CASE("matvec: all weight types vs reference, exact integer case, threads") {
  std::mt19937 rng(3);
  const size_t shapes[][2] = {{1, 1},   {1, 37},    {5, 48},   {7, 112},   {3, 33}, {2, 16},
                              {17, 96}, {130, 100}, {9, 4304}, {64, 2560}, {3, 200}};
  for_each_target("matvec", [&] {
    for (WeightType t : kTypes) {
      // Q8/Q4: the AVX-512 VNNI kernel where the CPU has it, and the portable
      // one (allow_intrinsics = false) on every target.
      for (bool vnni : {true, false}) {
        if (!vnni && !is_quantized(t)) continue;
        auto mv = [&](const MatView& W, const float* x, float* y, int threads) {
          ops::detail::matvec_impl(W, x, y, ops::ThreadContext(threads, 0), vnni);
        };
        for (const auto& s : shapes) {
          const size_t rows = s[0], cols = s[1];
          const std::string type = weight_type_name(t);
          CAPTURE(type);
          CAPTURE(vnni);
          CAPTURE(rows);
          CAPTURE(cols);
          // random floats: f32 sum of `cols` products (plus one scale product
          // per group for Q8/Q4): ≤ (cols + 2)·u·Σ|w·x|
          auto m = make_matrix(t, random_floats(rng, rows * cols), rows, cols);
          scramble_padding(m, rng);
          const auto x = random_floats(rng, cols);
          std::vector<float> y(rows);
          mv(m.view, x.data(), y.data(), 2);
          for (size_t r = 0; r < rows; ++r) {
            double ref = 0, mag = 0;
            for (size_t c = 0; c < cols; ++c) {
              ref += double(m.values[r * cols + c]) * x[c];
              mag += std::fabs(double(m.values[r * cols + c]) * x[c]);
            }
            if (is_quantized(t)) {  // the documented 8-bit x formula, and its distance to Σ w·x
              const QuantRef q = quant_ref(m.view, x.data(), r);
              CHECK(std::fabs(y[r] - q.value) <= (cols + 2) * kU * q.mag);
              CHECK(std::fabs(y[r] - ref) <= (cols + 2) * kU * (q.mag + mag) + q.xerr);
            } else {
              CHECK(std::fabs(y[r] - ref) <= (cols + 2) * kU * mag);
            }
          }
          // exact: integer weights (power-of-two scales), x integers in [-2, 2]
          // (Q8/Q4: plus one ±127 per group, so dx = 1 and xq = x exactly)
          auto e = make_matrix(t, exact_weights(rng, t, rows, cols), rows, cols);
          scramble_padding(e, rng);
          auto ix = random_ints(rng, cols, -2, 2);
          if (is_quantized(t))
            for (size_t c = 0; c < cols; c += 32)
              ix[std::min(cols - 1, c + rng() % 32)] = (rng() & 1) ? 127.0f : -127.0f;
          mv(e.view, ix.data(), y.data(), 1);
          size_t bad = 0;
          for (size_t r = 0; r < rows; ++r) {
            double ref = 0;
            for (size_t c = 0; c < cols; ++c) ref += double(e.values[r * cols + c]) * ix[c];
            bad += y[r] != float(ref);
          }
          CHECK(bad == 0);
          // 1, 2, 3 threads, and nested inside a parallel region: same bits
          std::vector<float> y1(rows), y2(rows), y3(rows), yn(rows);
          mv(m.view, x.data(), y1.data(), 1);
          mv(m.view, x.data(), y2.data(), 2);
          mv(m.view, x.data(), y3.data(), 3);
#pragma omp parallel num_threads(2)
          {
#pragma omp single
            mv(m.view, x.data(), yn.data(), 2);
          }
          CHECK(y1 == y2);
          CHECK(y1 == y3);
          CHECK(y1 == yn);
        }
      }
    }
  });
}

TEST_CASE("matvec_multi: one region, the same bits as separate matvec calls") {
  std::mt19937 rng(5);
  for (WeightType t : kTypes) {
    const size_t cols = 300;
    auto a = make_matrix(t, random_floats(rng, 70 * cols), 70, cols);
    auto b = make_matrix(t, random_floats(rng, 33 * cols), 33, cols);
    auto c = make_matrix(t, random_floats(rng, 5 * cols), 5, cols);
    const auto x = random_floats(rng, cols);
    std::vector<float> ya(70), yb(33), yc(5), ra(70), rb(33), rc(5);
    const MatView* W[] = {&a.view, &b.view, &c.view};
    float* Y[] = {ya.data(), yb.data(), yc.data()};
    for (int threads : {1, 2, 3}) {
      ops::matvec_multi(W, Y, 3, x.data(), ops::ThreadContext(threads, 0));
      ops::matvec(a.view, x.data(), ra.data(), ops::ThreadContext(1));
      ops::matvec(b.view, x.data(), rb.data(), ops::ThreadContext(1));
      ops::matvec(c.view, x.data(), rc.data(), ops::ThreadContext(1));
      CHECK(ya == ra);
      CHECK(yb == rb);
      CHECK(yc == rc);
    }
    // mixed shapes fall back to separate calls
    auto d = make_matrix(t, random_floats(rng, 4 * 64), 4, 64);
    const MatView* W2[] = {&a.view, &d.view};
    std::vector<float> yd(4), rd(4);
    float* Y2[] = {ya.data(), yd.data()};
    ops::matvec_multi(W2, Y2, 2, x.data(), ops::ThreadContext(2, 0));
    ops::matvec(d.view, x.data(), rd.data(), ops::ThreadContext(1));
    CHECK(ya == ra);
    CHECK(yd == rd);
  }
}

TEST_CASE("matvec Q8/Q4: a zero group of x, a non-finite x, VNNI and portable agree") {
  std::mt19937 rng(11);
  for_each_target("matvec quant edge cases", [&] {
    for (WeightType t : {WeightType::Q8, WeightType::Q4}) {
      const size_t rows = 37, cols = 300;
      auto m = make_matrix(t, random_floats(rng, rows * cols), rows, cols);
      auto x = random_floats(rng, cols);
      for (size_t c = 64; c < 96; ++c) x[c] = 0.0f;  // group 2 all zero: dx = 0
      std::vector<float> a(rows), b(rows);
      ops::detail::matvec_impl(m.view, x.data(), a.data(), ops::ThreadContext(1), true);
      ops::detail::matvec_impl(m.view, x.data(), b.data(), ops::ThreadContext(1), false);
      for (size_t r = 0; r < rows; ++r) {
        const QuantRef q = quant_ref(m.view, x.data(), r);
        CHECK(std::fabs(a[r] - q.value) <= (cols + 2) * kU * q.mag);
        CHECK(std::fabs(b[r] - q.value) <= (cols + 2) * kU * q.mag);
      }
      x[150] = std::numeric_limits<float>::quiet_NaN();
      ops::matvec(m.view, x.data(), a.data(), ops::ThreadContext(1));
      for (size_t r = 0; r < rows; ++r) CHECK(std::isnan(a[r]));
      x[150] = std::numeric_limits<float>::infinity();
      ops::matvec(m.view, x.data(), a.data(), ops::ThreadContext(1));
      for (size_t r = 0; r < rows; ++r) CHECK(std::isnan(a[r]));
    }
  });
}

TEST_CASE("matmul: all weight types vs reference, bias, exact case, threads, n-independence") {
  std::mt19937 rng(4);
  // (n, rows, cols): tails of the 8-row tile, of the 2-vector strip, of the
  // 128-row block and of the 256-deep panel.
  const size_t shapes[][3] = {{1, 1, 1},     {3, 5, 7},      {9, 33, 48},  {17, 40, 112},
                              {13, 70, 300}, {70, 129, 257}, {6, 20, 4304}};
  for_each_target("matmul", [&] {
    for (WeightType t : kTypes) {
      for (const auto& s : shapes) {
        const size_t n = s[0], rows = s[1], cols = s[2];
        const std::string type = weight_type_name(t);
        CAPTURE(type);
        CAPTURE(n);
        CAPTURE(rows);
        CAPTURE(cols);
        auto m = make_matrix(t, random_floats(rng, rows * cols), rows, cols);
        scramble_padding(m, rng);
        const auto X = random_floats(rng, n * cols);
        const auto bias = random_floats(rng, rows);
        std::vector<float> Y(n * rows), Yb(n * rows);
        ops::matmul(m.view, X.data(), n, Y.data(), ops::ThreadContext(2, 0));
        ops::matmul(m.view, X.data(), n, Yb.data(), ops::ThreadContext(2, 0), bias.data());
        size_t bad = 0;
        for (size_t i = 0; i < n; ++i) {
          for (size_t j = 0; j < rows; ++j) {
            double ref = 0, mag = 0;
            for (size_t k = 0; k < cols; ++k) {
              ref += double(X[i * cols + k]) * m.values[j * cols + k];
              mag += std::fabs(double(X[i * cols + k]) * m.values[j * cols + k]);
            }
            // one sequential FMA chain of `cols` terms; the bias adds one rounding
            bad += !(std::fabs(Y[i * rows + j] - ref) <= cols * kU * mag);
            bad += !(std::fabs(Yb[i * rows + j] - (ref + bias[j])) <=
                     (cols + 1) * kU * (mag + std::fabs(bias[j])));
          }
        }
        CHECK(bad == 0);
        // exact: integer weights, X in [-2, 2]
        auto e = make_matrix(t, exact_weights(rng, t, rows, cols), rows, cols);
        scramble_padding(e, rng);
        const auto iX = random_ints(rng, n * cols, -2, 2);
        ops::matmul(e.view, iX.data(), n, Y.data(), ops::ThreadContext(1));
        bad = 0;
        for (size_t i = 0; i < n; ++i) {
          for (size_t j = 0; j < rows; ++j) {
            double ref = 0;
            for (size_t k = 0; k < cols; ++k)
              ref += double(iX[i * cols + k]) * e.values[j * cols + k];
            bad += Y[i * rows + j] != float(ref);
          }
        }
        CHECK(bad == 0);
        // thread counts (1, 2, 3) give the same bits; so does any single row
        // computed alone (n = 1): each output is one fixed FMA chain.
        std::vector<float> Y1(n * rows), Y3(n * rows), row(rows);
        ops::matmul(m.view, X.data(), n, Y1.data(), ops::ThreadContext(1));
        ops::matmul(m.view, X.data(), n, Y3.data(), ops::ThreadContext(3, 0));
        ops::matmul(m.view, X.data(), n, Y.data(), ops::ThreadContext(2, 0));
        CHECK(Y1 == Y);
        CHECK(Y3 == Y);
        const size_t i = n / 2;
        ops::matmul(m.view, X.data() + i * cols, 1, row.data(), ops::ThreadContext(1));
        CHECK(std::equal(row.begin(), row.end(), Y.begin() + i * rows));
      }
    }
  });
}

TEST_CASE("matvec/matmul reject a bad weight view") {
  MatView W;
  W.type = static_cast<WeightType>(7);
  W.rows = W.cols = 4;
  float x[4] = {}, y[4];
  CHECK_THROWS_AS(ops::matvec(W, x, y, ops::ThreadContext(1)), gemma3::Error);
  W.type = WeightType::F32;
  W.data = nullptr;
  CHECK_THROWS_AS(ops::matmul(W, x, 1, y, ops::ThreadContext(1)), gemma3::Error);
}

TEST_CASE("rms_norm and layer_norm") {
  std::mt19937 rng(5);
  for_each_target("norms", [&] {
    for (size_t n : {1, 3, 17, 64, 100, 256, 1152, 2560}) {
      CAPTURE(n);
      const size_t rows = 3;
      const float eps = 1e-6f;
      const auto x = random_floats(rng, rows * n, -3.0f, 3.0f);
      const auto w = random_floats(rng, n, -0.5f, 0.5f);
      const auto b = random_floats(rng, n);
      std::vector<float> y(rows * n), z(rows * n);
      ops::rms_norm(x.data(), w.data(), rows, n, eps, y.data());
      ops::layer_norm(x.data(), w.data(), b.data(), rows, n, eps, z.data());
      for (size_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * n;
        double ss = 0, sum = 0, asum = 0;
        for (size_t i = 0; i < n; ++i) {
          ss += double(xr[i]) * xr[i];
          sum += xr[i];
          asum += std::fabs(xr[i]);
        }
        const double inv = 1.0 / std::sqrt(ss / n + eps);
        const double mean = sum / n;
        double var = 0;
        for (size_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        const double rstd = 1.0 / std::sqrt(var / n + eps);
        for (size_t i = 0; i < n; ++i) {
          // RMSNorm: Σx² (n terms, relative n·u), /n, +eps, sqrt (halves it),
          // 1/·, x·inv, (1+w) with |w| ≤ 1/2 (≤ 3u relative), product:
          // relative error ≤ (n/2 + 8)·u.
          const double ry = double(xr[i]) * inv * (1.0 + w[i]);
          CHECK(std::fabs(y[r * n + i] - ry) <= (n / 2.0 + 8) * kU * std::fabs(ry) + 1e-30);
          // LayerNorm: mean off by ≤ n·u·mean|x|, which shifts x − mean;
          // variance relative ≤ (n + 4)·u; rstd ≤ (n/2 + 4)·u; then 3
          // roundings and + b: |Δ| ≤ (n + 8)·u·(|x − mean| + mean|x|)·rstd·|w|
          // + 2u·(|y| + |b|).
          const double rz = (xr[i] - mean) * rstd * w[i] + b[i];
          const double tol =
              (n + 8) * kU * (std::fabs(xr[i] - mean) + asum / n) * rstd * std::fabs(w[i]) +
              2 * kU * (std::fabs(rz) + std::fabs(b[i]));
          CHECK(std::fabs(z[r * n + i] - rz) <= tol);
        }
      }
      // in place gives the same bits
      auto xi = x;
      ops::rms_norm(xi.data(), w.data(), rows, n, eps, xi.data());
      CHECK(xi == y);
    }
  });
}

TEST_CASE("softmax: values, -inf masking, all-masked row") {
  std::mt19937 rng(6);
  const float inf = std::numeric_limits<float>::infinity();
  for_each_target("softmax", [&] {
    for (size_t n : kSizes) {
      if (n == 0) continue;
      CAPTURE(n);
      auto x = random_floats(rng, n, -20.0f, 20.0f);
      for (size_t i = 0; i < n; i += 3) x[i] = -inf;  // masked (i = 0 always)
      if (n > 1) x[n - 1] = 5.0f;                     // at least one live entry
      const auto x0 = x;
      ops::softmax(x.data(), n);
      double mx = -INFINITY;
      for (float v : x0) mx = v > mx ? v : mx;
      double sum = 0;
      for (float v : x0) sum += std::exp(double(v) - mx);
      for (size_t i = 0; i < n; ++i) {
        const double ref = std::exp(double(x0[i]) - mx) / sum;
        if (x0[i] == -inf) {
          CHECK(x[i] == 0.0f);
        } else {
          // x − max (u·|x − max|, amplified by exp), exp (1 ulp), sum of n
          // terms (n·u), 1/sum and the product (2u):
          // |Δp| ≤ (|x − max| + n + 4)·u·p
          CHECK(std::fabs(x[i] - ref) <= (std::fabs(x0[i] - mx) + n + 4) * kU * ref);
        }
      }
      std::vector<float> all(n, -inf);
      ops::softmax(all.data(), n);
      for (float v : all) CHECK(v == 0.0f);
    }
    float one = -3.0f;
    ops::softmax(&one, 1);
    CHECK(one == 1.0f);
  });
}

TEST_CASE("gelu (tanh approximation) and gelu_mul") {
  std::mt19937 rng(7);
  for_each_target("gelu", [&] {
    // a dense grid over [-12, 12] plus random sizes for the tails
    std::vector<float> x;
    for (int i = -24000; i <= 24000; ++i) x.push_back(float(i) / 2000.0f);
    double worst = 0;
    for (size_t n : {size_t(1), size_t(3), size_t(17), size_t(33), x.size()}) {
      CAPTURE(n);
      std::vector<float> g(x.begin(), x.begin() + n);
      const auto up = random_floats(rng, n);
      std::vector<float> gm(n);
      ops::gelu_mul(g.data(), up.data(), gm.data(), n);
      ops::gelu(g.data(), n);
      size_t bad = 0;
      for (size_t i = 0; i < n; ++i) {
        const double u = x[i];
        const double ref =
            0.5 * u * (1.0 + std::tanh(0.7978845608028654 * (u + 0.044715 * u * u * u)));
        // tanh ≤ 4 ulp (of |t| ≤ 1): 0.5|u|·4u; the argument's 3 roundings
        // move tanh by ≤ 0.5|u|·3u·|arg|·sech²(arg) ≤ 0.5|u|·3u·0.45;
        // 3 more roundings on the result: 3u·|gelu|. Together ≤ 4u·(|u| + |gelu|).
        const double tol = 4 * kU * (std::fabs(u) + std::fabs(ref));
        const double err = std::fabs(g[i] - ref);
        worst = std::max(worst, err / tol);
        bad += !(err <= tol);
        bad += !(std::fabs(gm[i] - ref * up[i]) <=
                 tol * std::fabs(up[i]) + kU * std::fabs(ref * up[i]));
      }
      CHECK(bad == 0);
    }
    MESSAGE("gelu worst error / tolerance = " << worst);
  });
}

TEST_CASE("rope: rotate-half pairs (i, i + D/2)") {
  std::mt19937 rng(8);
  for_each_target("rope", [&] {
    for (size_t D : {2, 6, 34, 72, 256}) {
      CAPTURE(D);
      const size_t heads = 3, half = D / 2;
      const auto z0 = random_floats(rng, heads * D);
      std::vector<float> c(half), s(half);
      for (size_t i = 0; i < half; ++i) {
        const double th = 0.37 * double(i + 1);
        c[i] = float(std::cos(th));
        s[i] = float(std::sin(th));
      }
      auto z = z0;
      ops::rope(z.data(), heads, D, c.data(), s.data());
      for (size_t h = 0; h < heads; ++h) {
        for (size_t i = 0; i < half; ++i) {
          const double a = z0[h * D + i], b = z0[h * D + i + half];
          // two products and one sum: ≤ 2u·(sum of the two |products|)
          const double tol1 = 2 * kU * (std::fabs(a * c[i]) + std::fabs(b * s[i]));
          const double tol2 = 2 * kU * (std::fabs(b * c[i]) + std::fabs(a * s[i]));
          CHECK(std::fabs(z[h * D + i] - (a * c[i] - b * s[i])) <= tol1);
          CHECK(std::fabs(z[h * D + i + half] - (b * c[i] + a * s[i])) <= tol2);
        }
      }
      // angle 90°: (a, b) → (−b, a) exactly
      std::vector<float> c0(half, 0.0f), s1(half, 1.0f);
      z = z0;
      ops::rope(z.data(), heads, D, c0.data(), s1.data());
      for (size_t h = 0; h < heads; ++h) {
        for (size_t i = 0; i < half; ++i) {
          CHECK(z[h * D + i] == -z0[h * D + i + half]);
          CHECK(z[h * D + i + half] == z0[h * D + i]);
        }
      }
    }
  });
}

TEST_CASE("avg_pool_2d matches the summation order of AvgPool2d exactly") {
  std::mt19937 rng(9);
  const size_t cases[][4] = {
      {8, 8, 5, 4}, {6, 9, 17, 2}, {64, 64, 37, 4}, {3, 3, 1, 3}, {5, 7, 3, 2}};
  for_each_target("avg_pool_2d", [&] {
    for (const auto& cs : cases) {
      const size_t H = cs[0], W = cs[1], C = cs[2], k = cs[3];
      CAPTURE(H);
      CAPTURE(W);
      CAPTURE(C);
      CAPTURE(k);
      const auto in = random_floats(rng, H * W * C);
      const size_t Ho = H / k, Wo = W / k;
      std::vector<float> out(Ho * Wo * C);
      ops::avg_pool_2d(in.data(), H, W, C, k, out.data());
      size_t bad = 0;
      for (size_t R = 0; R < Ho; ++R) {
        for (size_t Q = 0; Q < Wo; ++Q) {
          for (size_t c = 0; c < C; ++c) {
            float s = 0.0f;  // same order, same f32 roundings
            for (size_t dy = 0; dy < k; ++dy) {
              for (size_t dx = 0; dx < k; ++dx) s += in[((k * R + dy) * W + k * Q + dx) * C + c];
            }
            bad += out[(R * Wo + Q) * C + c] != s / float(k * k);
          }
        }
      }
      CHECK(bad == 0);
    }
  });
}

TEST_CASE("patch_embed: im2col order of a Conv2d weight [out, C, p, p]") {
  std::mt19937 rng(10);
  const size_t C = 3, S = 42, p = 14, O = 7, g = S / p;
  const auto image = random_floats(rng, C * S * S);
  const auto w = random_floats(rng, O * C * p * p);
  const auto bias = random_floats(rng, O);
  for_each_target("patch_embed", [&] {
    for (WeightType t : {WeightType::F32, WeightType::BF16}) {
      const auto m = make_matrix(t, w, O, C * p * p);
      std::vector<float> out(g * g * O);
      ops::patch_embed(image.data(), C, S, p, m.view, bias.data(), out.data(),
                       ops::ThreadContext(2, 0));
      for (size_t r = 0; r < g; ++r) {
        for (size_t q = 0; q < g; ++q) {
          for (size_t o = 0; o < O; ++o) {
            double ref = bias[o], mag = std::fabs(bias[o]);
            for (size_t c = 0; c < C; ++c) {
              for (size_t dy = 0; dy < p; ++dy) {
                for (size_t dx = 0; dx < p; ++dx) {
                  const double v = double(m.values[((o * C + c) * p + dy) * p + dx]) *
                                   image[(c * S + p * r + dy) * S + p * q + dx];
                  ref += v;
                  mag += std::fabs(v);
                }
              }
            }
            CHECK(std::fabs(out[(r * g + q) * O + o] - ref) <= (C * p * p + 1) * kU * mag);
          }
        }
      }
    }
  });
  const auto m = make_matrix(WeightType::F32, w, O, C * p * p);
  std::vector<float> out(64 * O);
  CHECK_THROWS_AS(ops::patch_embed(image.data(), C, 40, p, m.view, nullptr, out.data(), {}),
                  gemma3::Error);
}

TEST_CASE("ThreadContext: default, clamping, no oversubscription") {
  const ops::ThreadContext def;
  CHECK(def.num_threads == ops::ThreadContext::max_threads());
  CHECK(ops::ThreadContext(0).num_threads == 1);
  CHECK(ops::effective_threads(ops::ThreadContext(4), 2) <= 2);
  int inside = -1;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    inside = ops::effective_threads(ops::ThreadContext(4), 100);
  }
#ifdef _OPENMP
  CHECK(inside == 1);
#else
  CHECK(inside == 1);
#endif
}

TEST_CASE("limit_targets caps dispatch at a named target; unknown names are refused") {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();  // best first
  REQUIRE(!targets.empty());
  std::string seen;
  for (int64_t t : targets) {
    std::string lower = hwy::TargetName(t);
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    ops::limit_targets(lower);  // names are case-insensitive
    CHECK(std::string(ops::active_target_name()) == hwy::TargetName(t));
    CHECK(std::string(ops::best_supported_target_name()) == hwy::TargetName(t));
    seen += std::string(" ") + hwy::TargetName(t);
  }
  ops::limit_targets(
      hwy::TargetName(targets.front()));  // back up: the cap is replaced, not narrowed
  CHECK(std::string(ops::active_target_name()) == hwy::TargetName(targets.front()));
  CHECK(ops::compiled_target_names().find(hwy::TargetName(targets.front())) != std::string::npos);
  CHECK_THROWS_WITH_AS(ops::limit_targets("AVX9"), doctest::Contains("unknown SIMD target 'AVX9'"),
                       Error);
  CHECK_THROWS_AS(ops::limit_targets(""), Error);
  hwy::DisableTargets(0);
  ops::limit_targets_from_env();  // as the run started
  std::printf("limit_targets: capped at%s (compiled: %s)\n", seen.c_str(),
              ops::compiled_target_names().c_str());
}
