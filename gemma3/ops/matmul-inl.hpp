// gemma3/ops/matmul-inl.hpp — per-target code of the matrix–vector and
// matrix–matrix products (public API and the scalar description of what they
// compute: gemma3/ops/matmul.hpp).
//
// Weight types (gemma3/tensor.hpp): F32, BF16, Q8 (int8, 32-element groups,
// f16 scale), Q4 (two nibbles per byte, 32-element groups, f16 scale). The
// weights are always read in place and decompressed inside the loops.
#if defined(GEMMA3_OPS_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_MATMUL_INL_H_
#undef GEMMA3_OPS_MATMUL_INL_H_
#else
#define GEMMA3_OPS_MATMUL_INL_H_
#endif

#include <hwy/cache_control.h>
#include <type_traits>

#include <hwy/highway.h>

#include "gemma3/ops/vector-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Quantized kernels work on 16-lane (or narrower) vectors so that a
// 32-element group is a whole number of vectors on every target.
using DQ = hn::CappedTag<float, 16>;

// f32 scales of `count` (≤ 16) consecutive groups, starting at `s`.
// Past `count`, out is 0. (Full blocks load straight from s: copying through
// a small buffer would stall on store-to-load forwarding.)
HWY_INLINE void LoadScales(const uint16_t* HWY_RESTRICT s, size_t count, float* HWY_RESTRICT out) {
  const DQ d;
  const size_t N = hn::Lanes(d);
  if (count == 16) {
    for (size_t g = 0; g < 16; g += N) hn::StoreU(LoadF16(d, s + g), d, out + g);
    return;
  }
  HWY_ALIGN uint16_t buf[16] = {};
  for (size_t g = 0; g < count; ++g) buf[g] = s[g];
  for (size_t g = 0; g < 16; g += N) hn::StoreU(LoadF16(d, buf + g), d, out + g);
}

// ---- matrix–vector ---------------------------------------------------------

// One row of an F32/BF16 matrix: two lane-wise accumulators (even and odd
// vectors), then one more vector, the lane sum, the scalar tail. RowDot4
// below performs exactly these operations for four rows at once, so a row's
// result never depends on how rows are grouped or split among threads.
template <typename T>
HWY_INLINE float RowDot(const T* HWY_RESTRICT w, const float* HWY_RESTRICT x, size_t cols) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d);
  size_t c = 0;
  for (; c + 2 * N <= cols; c += 2 * N) {
    a0 = hn::MulAdd(LoadAsF32(d, w + c), hn::LoadU(d, x + c), a0);
    a1 = hn::MulAdd(LoadAsF32(d, w + c + N), hn::LoadU(d, x + c + N), a1);
  }
  if (c + N <= cols) {
    a0 = hn::MulAdd(LoadAsF32(d, w + c), hn::LoadU(d, x + c), a0);
    c += N;
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
  for (; c < cols; ++c) sum += ScalarAsF32(w[c]) * x[c];
  return sum;
}

// How far ahead of use each row stream of a matvec prefetches (bytes).
constexpr size_t kPrefetchBytes = 2048;

template <typename T>
HWY_INLINE void RowDot4(const T* HWY_RESTRICT w, size_t stride, const float* HWY_RESTRICT x,
                        size_t cols, float* HWY_RESTRICT y, size_t ystride) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const T* w0 = w;
  const T* w1 = w + stride;
  const T* w2 = w + 2 * stride;
  const T* w3 = w + 3 * stride;
  auto a00 = hn::Zero(d), a01 = hn::Zero(d), a10 = hn::Zero(d), a11 = hn::Zero(d);
  auto a20 = hn::Zero(d), a21 = hn::Zero(d), a30 = hn::Zero(d), a31 = hn::Zero(d);
  // Software prefetch kPrefetch bytes ahead in each of the four row streams:
  // it keeps enough DRAM requests in flight for one core to reach full
  // bandwidth (the hardware prefetcher alone falls short on bf16 rows).
  constexpr size_t kAhead = kPrefetchBytes / sizeof(T);
  size_t c = 0;
  for (; c + 2 * N <= cols; c += 2 * N) {
    for (size_t b = 0; b < 2 * N * sizeof(T); b += 64) {
      hwy::Prefetch(reinterpret_cast<const uint8_t*>(w0 + c + kAhead) + b);
      hwy::Prefetch(reinterpret_cast<const uint8_t*>(w1 + c + kAhead) + b);
      hwy::Prefetch(reinterpret_cast<const uint8_t*>(w2 + c + kAhead) + b);
      hwy::Prefetch(reinterpret_cast<const uint8_t*>(w3 + c + kAhead) + b);
    }
    const auto x0 = hn::LoadU(d, x + c);
    const auto x1 = hn::LoadU(d, x + c + N);
    a00 = hn::MulAdd(LoadAsF32(d, w0 + c), x0, a00);
    a01 = hn::MulAdd(LoadAsF32(d, w0 + c + N), x1, a01);
    a10 = hn::MulAdd(LoadAsF32(d, w1 + c), x0, a10);
    a11 = hn::MulAdd(LoadAsF32(d, w1 + c + N), x1, a11);
    a20 = hn::MulAdd(LoadAsF32(d, w2 + c), x0, a20);
    a21 = hn::MulAdd(LoadAsF32(d, w2 + c + N), x1, a21);
    a30 = hn::MulAdd(LoadAsF32(d, w3 + c), x0, a30);
    a31 = hn::MulAdd(LoadAsF32(d, w3 + c + N), x1, a31);
  }
  if (c + N <= cols) {
    const auto x0 = hn::LoadU(d, x + c);
    a00 = hn::MulAdd(LoadAsF32(d, w0 + c), x0, a00);
    a10 = hn::MulAdd(LoadAsF32(d, w1 + c), x0, a10);
    a20 = hn::MulAdd(LoadAsF32(d, w2 + c), x0, a20);
    a30 = hn::MulAdd(LoadAsF32(d, w3 + c), x0, a30);
    c += N;
  }
  float s0 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a00, a01)));
  float s1 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a10, a11)));
  float s2 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a20, a21)));
  float s3 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a30, a31)));
  for (; c < cols; ++c) {
    s0 += ScalarAsF32(w0[c]) * x[c];
    s1 += ScalarAsF32(w1[c]) * x[c];
    s2 += ScalarAsF32(w2[c]) * x[c];
    s3 += ScalarAsF32(w3[c]) * x[c];
  }
  y[0] = s0;
  y[ystride] = s1;
  y[2 * ystride] = s2;
  y[3 * ystride] = s3;
}

// The rows [r0, r1) of one matvec task, as four row streams: rows(R, r,
// stride) with R = 4 computes rows r + i·stride (i < 4) together, for
// r = r0 … r0 + span − 1 (span = a quarter of the rows); then R = 1 for each
// remaining row. Four rows share each load of x, and they are far apart, so
// each is a sequential stream for the hardware prefetcher: four adjacent
// rows interleaved block by block look like a random walk inside each 4 KiB
// page and cost up to half the DRAM throughput (one core, 2560-wide Q4 rows:
// 25 vs 39 GB/s). 4 rows, because 8 spill the accumulators (GCC, AVX-512).
// Kernels compute a row with the same operations for any R and stride, so
// the grouping never changes a result.
template <class Rows>
HWY_INLINE void ForRowStreams(size_t r0, size_t r1, const Rows& rows) {
  const size_t span = (r1 - r0) / 4;
  for (size_t j = 0; j < span; ++j) rows(std::integral_constant<size_t, 4>(), r0 + j, span);
  for (size_t r = r0 + 4 * span; r < r1; ++r)
    rows(std::integral_constant<size_t, 1>(), r, size_t(0));
}

template <typename T>
HWY_INLINE void MatVecRowsDense(const MatView& W, const float* x, float* y, size_t r0, size_t r1) {
  const T* base = reinterpret_cast<const T*>(W.data);
  const size_t cols = W.cols;
  // With kPrefetchBytes = 2048 and row streams, one core reads bf16 at 37
  // instead of 28 GB/s.
  ForRowStreams(r0, r1, [&](auto R, size_t r, size_t stride) {
    if constexpr (decltype(R)::value == 4)
      RowDot4(base + r * cols, stride * cols, x, cols, y + r, stride);
    else y[r] = RowDot(base + r * cols, x, cols);
  });
}

// ---- matrix–matrix -----------------------------------------------------------

// Rows of X per micro-kernel: 8 where the target has 32 vector registers
// (8×2 accumulators + 2 weights + 1 broadcast), 6 on 16-register x86 targets.
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3
constexpr size_t kMR = 6;
#else
constexpr size_t kMR = 8;
#endif
constexpr size_t kKC = 256;       // depth of a packed panel (multiple of the group size 32)
constexpr size_t kPackAhead = 8;  // rows ahead that PackStrip prefetches

// W[r, k0 … k0+kc) as f32 into out (k0 is a multiple of 32; for Q8/Q4 whole
// groups are decoded, so out needs room for kc rounded up to 32).
inline void DecodeRowSegment(const MatView& W, size_t r, size_t k0, size_t kc, float* out) {
  const hn::ScalableTag<float> d;
  switch (W.type) {
    case WeightType::F32: {
      const float* w = reinterpret_cast<const float*>(W.row(r)) + k0;
      for (size_t k = 0; k < kc; ++k) out[k] = w[k];
      return;
    }
    case WeightType::BF16: {
      const uint16_t* w = reinterpret_cast<const uint16_t*>(W.row(r)) + k0;
      BF16ToF32(w, out, kc);
      return;
    }
    case WeightType::Q8:
    case WeightType::Q4: {
      const DQ dq;
      const hn::Rebind<int32_t, DQ> di32;
      const hn::Rebind<int8_t, DQ> di8;
      const hn::Rebind<uint8_t, DQ> du8;
      const size_t N = hn::Lanes(dq);
      const size_t g0 = k0 / kQuantGroup;
      const size_t ng = (kc + kQuantGroup - 1) / kQuantGroup;
      HWY_ALIGN float scale[16];
      for (size_t b = 0; b < ng; b += 16) {
        const size_t count = ng - b < 16 ? ng - b : 16;
        LoadScales(W.scales(r) + g0 + b, count, scale);
        for (size_t k = 0; k < count; ++k) {
          const size_t g = g0 + b + k;
          float* o = out + (b + k) * kQuantGroup;
          const auto vs = hn::Set(dq, scale[k]);
          if (W.type == WeightType::Q8) {
            const int8_t* q = reinterpret_cast<const int8_t*>(W.row(r)) + g * kQuantGroup;
            for (size_t j = 0; j < kQuantGroup; j += N) {
              const auto v = hn::ConvertTo(dq, hn::PromoteTo(di32, hn::LoadU(di8, q + j)));
              hn::StoreU(hn::Mul(v, vs), dq, o + j);  // exact: ≤ 8 × 11 significant bits
            }
          } else {
            const uint8_t* p = W.row(r) + g * (kQuantGroup / 2);
            const auto mask = hn::Set(du8, uint8_t{0x0F});
            const auto eight = hn::Set(du8, uint8_t{8});
            for (size_t j = 0; j < kQuantGroup / 2; j += N) {
              const auto bytes = hn::LoadU(du8, p + j);
              const auto lo = hn::BitCast(di8, hn::Sub(hn::And(bytes, mask), eight));
              const auto hi = hn::BitCast(di8, hn::Sub(hn::ShiftRight<4>(bytes), eight));
              hn::StoreU(hn::Mul(hn::ConvertTo(dq, hn::PromoteTo(di32, lo)), vs), dq, o + j);
              hn::StoreU(hn::Mul(hn::ConvertTo(dq, hn::PromoteTo(di32, hi)), vs), dq, o + j + 16);
            }
          }
        }
      }
      (void)d;
      return;
    }
  }
}

// Decodes W rows j, j+1, … (zeros from row j1 on) at k0 … k0+kc into one
// k-major strip of NR columns: strip[k·NR + jj] = W[j + jj, k0 + k]. Four
// rows at a time are decoded into `rows` (4·kKC floats) and transposed in
// 4×4 blocks of 128-bit vectors: a scalar scatter cost ~1 ns per weight,
// which dominated prefills of a few tokens (8 tokens: 1.25 s of q4 packing).
inline void PackStrip(const MatView& W, size_t j, size_t j1, size_t k0, size_t kc, size_t NR,
                      float* HWY_RESTRICT rows, float* HWY_RESTRICT strip) {
  // The stored bytes of weights k0 … k0+kc of a row (k0 is a whole group).
  const size_t seg_at = row_bytes(W.type, k0), seg_len = row_bytes(W.type, kc);
  for (size_t jj = 0; jj < NR; jj += 4) {
    const size_t mr = NR - jj < 4 ? NR - jj : 4;  // (NR = 2 on HWY_SCALAR)
    for (size_t m = 0; m < mr; ++m) {
      // Rows are read kc weights at a time, a row stride apart: prefetch the
      // segment of the row kPackAhead rows on (a few tokens' prefill is
      // bound by these reads: 8-token q4 prefill 0.97 → 0.6 s).
      const size_t ahead = j + jj + m + kPackAhead;
      if (ahead < W.rows) {
        const uint8_t* seg = W.row(ahead) + seg_at;
        for (size_t b = 0; b < seg_len; b += 64) hwy::Prefetch(seg + b);
        if (is_quantized(W.type)) hwy::Prefetch(W.scales(ahead) + k0 / kQuantGroup);
      }
      float* r = rows + m * kKC;
      if (j + jj + m < j1) {
        DecodeRowSegment(W, j + jj + m, k0, kc, r);
      } else {
        for (size_t k = 0; k < kc; ++k) r[k] = 0.0f;
      }
    }
    size_t k = 0;
#if HWY_TARGET != HWY_SCALAR
    const hn::Full128<float> d4;
    for (; mr == 4 && k + 4 <= kc; k += 4) {
      const auto a = hn::LoadU(d4, rows + k), b = hn::LoadU(d4, rows + kKC + k);
      const auto c = hn::LoadU(d4, rows + 2 * kKC + k), e = hn::LoadU(d4, rows + 3 * kKC + k);
      const auto ab_lo = hn::InterleaveLower(d4, a, b), ce_lo = hn::InterleaveLower(d4, c, e);
      const auto ab_hi = hn::InterleaveUpper(d4, a, b), ce_hi = hn::InterleaveUpper(d4, c, e);
      float* o = strip + k * NR + jj;
      hn::StoreU(hn::ConcatLowerLower(d4, ce_lo, ab_lo), d4, o);           // W[·, k]
      hn::StoreU(hn::ConcatUpperUpper(d4, ce_lo, ab_lo), d4, o + NR);      // W[·, k+1]
      hn::StoreU(hn::ConcatLowerLower(d4, ce_hi, ab_hi), d4, o + 2 * NR);  // W[·, k+2]
      hn::StoreU(hn::ConcatUpperUpper(d4, ce_hi, ab_hi), d4, o + 3 * NR);  // W[·, k+3]
    }
#endif
    for (; k < kc; ++k)
      for (size_t m = 0; m < mr; ++m) strip[k * NR + jj + m] = rows[m * kKC + k];
  }
}

// The register-blocked micro-kernel: a tile of kMR rows of X by NR = 2
// vectors of output columns. panel is [kc][NR] (k-major, packed by
// MatMulTask), xr[m] points at X[i+m, k0], yr[m] at Y[i+m, j] (nullptr: row
// not stored). Every Y element is one sequential FMA chain over k = 0 … K-1:
// the chain starts at 0 (first panel) or continues from the partial sum
// stored in Y by the previous panel, so blocking never changes the result.
template <class D>
HWY_INLINE void MicroKernel(D d, const float* const* xr, const float* HWY_RESTRICT panel, size_t kc,
                            float* const* yr, size_t ncols, bool first, const float* bias) {
  const size_t N = hn::Lanes(d);
  const size_t NR = 2 * N;
  HWY_ALIGN float tmp[2 * hn::MaxLanes(d)];
  // Loads the running sums of row m (zero for the first panel).
  auto load = [&](size_t m, size_t half) {
    if (first || yr[m] == nullptr) return hn::Zero(d);
    if (ncols == NR) return hn::LoadU(d, yr[m] + half * N);
    for (size_t j = 0; j < NR; ++j) tmp[j] = j < ncols ? yr[m][j] : 0.0f;
    return hn::Load(d, tmp + half * N);
  };
  auto c0a = load(0, 0), c0b = load(0, 1);
  auto c1a = load(1, 0), c1b = load(1, 1);
  auto c2a = load(2, 0), c2b = load(2, 1);
  auto c3a = load(3, 0), c3b = load(3, 1);
  auto c4a = load(4, 0), c4b = load(4, 1);
  auto c5a = load(5, 0), c5b = load(5, 1);
#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3)
  auto c6a = load(6, 0), c6b = load(6, 1);
  auto c7a = load(7, 0), c7b = load(7, 1);
#endif
  const float* x0 = xr[0];
  const float* x1 = xr[1];
  const float* x2 = xr[2];
  const float* x3 = xr[3];
  const float* x4 = xr[4];
  const float* x5 = xr[5];
#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3)
  const float* x6 = xr[6];
  const float* x7 = xr[7];
#endif
  for (size_t k = 0; k < kc; ++k) {
    const auto wa = hn::Load(d, panel + k * NR);
    const auto wb = hn::Load(d, panel + k * NR + N);
    auto b = hn::Set(d, x0[k]);
    c0a = hn::MulAdd(b, wa, c0a);
    c0b = hn::MulAdd(b, wb, c0b);
    b = hn::Set(d, x1[k]);
    c1a = hn::MulAdd(b, wa, c1a);
    c1b = hn::MulAdd(b, wb, c1b);
    b = hn::Set(d, x2[k]);
    c2a = hn::MulAdd(b, wa, c2a);
    c2b = hn::MulAdd(b, wb, c2b);
    b = hn::Set(d, x3[k]);
    c3a = hn::MulAdd(b, wa, c3a);
    c3b = hn::MulAdd(b, wb, c3b);
    b = hn::Set(d, x4[k]);
    c4a = hn::MulAdd(b, wa, c4a);
    c4b = hn::MulAdd(b, wb, c4b);
    b = hn::Set(d, x5[k]);
    c5a = hn::MulAdd(b, wa, c5a);
    c5b = hn::MulAdd(b, wb, c5b);
#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3)
    b = hn::Set(d, x6[k]);
    c6a = hn::MulAdd(b, wa, c6a);
    c6b = hn::MulAdd(b, wb, c6b);
    b = hn::Set(d, x7[k]);
    c7a = hn::MulAdd(b, wa, c7a);
    c7b = hn::MulAdd(b, wb, c7b);
#endif
  }
  // Stores row m (adding the bias after the last panel, like nn.Linear).
  auto store = [&](size_t m, hn::Vec<D> va, hn::Vec<D> vb) {
    if (yr[m] == nullptr) return;
    if (bias != nullptr) {
      for (size_t j = 0; j < NR; ++j) tmp[j] = j < ncols ? bias[j] : 0.0f;
      va = hn::Add(va, hn::Load(d, tmp));
      vb = hn::Add(vb, hn::Load(d, tmp + N));
    }
    if (ncols == NR) {
      hn::StoreU(va, d, yr[m]);
      hn::StoreU(vb, d, yr[m] + N);
    } else {
      hn::Store(va, d, tmp);
      hn::Store(vb, d, tmp + N);
      for (size_t j = 0; j < ncols; ++j) yr[m][j] = tmp[j];
    }
  };
  store(0, c0a, c0b);
  store(1, c1a, c1b);
  store(2, c2a, c2b);
  store(3, c3a, c3b);
  store(4, c4a, c4b);
  store(5, c5a, c5b);
#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3)
  store(6, c6a, c6b);
  store(7, c7a, c7b);
#endif
}

// Y[i, j] = Σ_k X[i, k]·W[j, k] (+ bias[j]) for i in [i0, i1), j in [j0, j1):
// for each kKC-deep slice of k, the W rows j0…j1 are decoded once into an f32
// panel (L2-resident, k-major in NR-wide strips) and reused by every row of X.
// scratch: MatMulScratchFloats(j1 - j0) floats, aligned to 64 bytes.
inline void MatMulTask(const MatView& W, const float* X, float* Y, const float* bias, size_t i0,
                       size_t i1, size_t j0, size_t j1, float* scratch) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t NR = 2 * N;
  const size_t K = W.cols, M = W.rows;
  const size_t strips = (j1 - j0 + NR - 1) / NR;
  float* HWY_RESTRICT panel = scratch;                     // strips·NR·kKC
  float* HWY_RESTRICT rows = scratch + strips * NR * kKC;  // 4·kKC
  for (size_t k0 = 0; k0 < K; k0 += kKC) {
    const size_t kc = K - k0 < kKC ? K - k0 : kKC;
    // Pack: strip s holds rows j0 + s·NR + jj at panel[s·NR·kKC + k·NR + jj].
    for (size_t s = 0; s < strips; ++s)
      PackStrip(W, j0 + s * NR, j1, k0, kc, NR, rows, panel + s * NR * kKC);
    const bool first = k0 == 0;
    const bool last = k0 + kc == K;
    for (size_t i = i0; i < i1; i += kMR) {
      const float* xr[8];
      for (size_t m = 0; m < 8; ++m) {
        const size_t im = i + m < i1 ? i + m : i1 - 1;  // tail rows repeat the last row
        xr[m] = X + im * K + k0;
      }
      for (size_t s = 0; s < strips; ++s) {
        const size_t j = j0 + s * NR;
        const size_t ncols = j1 - j < NR ? j1 - j : NR;
        float* yr[8];
        for (size_t m = 0; m < 8; ++m)
          yr[m] = (m < kMR && i + m < i1) ? Y + (i + m) * M + j : nullptr;
        MicroKernel(d, xr, panel + s * NR * kKC, kc, yr, ncols, first,
                    (last && bias != nullptr) ? bias + j : nullptr);
      }
    }
  }
}

// Floats of scratch MatMulTask needs for a block of `cols` W rows.
inline size_t MatMulScratchFloats(size_t cols) {
  const hn::ScalableTag<float> d;
  const size_t NR = 2 * hn::Lanes(d);
  return (cols + NR - 1) / NR * NR * kKC + 4 * kKC;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_MATMUL_INL_H_
