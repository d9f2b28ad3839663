// gemma3/ops/matvec_quant-inl.hpp — per-target code of the matrix–vector
// product for Q8/Q4 weights (the decode path of quantized models), and the
// MatVecRows entry point for all four weight types (public API:
// gemma3/ops/matmul.hpp).
//
// Q8/Q4 matvec multiplies 8-bit integers by 8-bit integers, as llama.cpp's
// q8_0/q4_0 paths do: x is quantized ONCE per call, per 32-element group g,
//   dx_g = f32(max_k |x_k| / 127),   xq_k = round_half_even(x_k / dx_g)  (f32 division)
// (a group of zeros: dx = 0, xq = 0; a non-finite value: dx = NaN, so y is
// NaN as the f32 product would be), and then
//   y[r] = Σ_g c_g · I_g,   c_g = f32(scale_g · dx_g),   I_g = Σ_{k∈g} q_k·xq_k
// with I_g an exact integer and the outer sum in f32. The quantization of x
// adds |Σ_k w_k·(x_k − xq_k·dx_g)| ≤ Σ_k |w_k|·dx_g/2 to the error of an f32
// product (docs/performance.md measures the effect on the model).
//
// Three implementations of the same integer sums, chosen at run time:
//  * AVX-512 VNNI (`vpdpbusd`, u8 × s8 → s32, four products per 32-bit lane)
//    inside the AVX3 target: Highway 1.0.3 has no op for it, so a function
//    with the extra target attribute uses the intrinsic, on CPUs that report
//    avx512vnni. vpdpbusd needs one unsigned operand: Q4 nibbles are stored
//    as q + 8 (0…15) and Q8 bytes become q + 128 with an XOR; the excess
//    8·Σxq / 128·Σxq of each lane is subtracted by starting the lane's
//    accumulator at a per-call correction, so every lane ends at an exact
//    Σ q·xq over its 4 (Q8) or 8 (Q4) elements.
//  * AVX2 (`pmaddubsw` + `pmaddwd`, llama.cpp's AVX2 recipe) inside the AVX2
//    target, with the same layout and lane corrections as the VNNI path.
//  * Portable Highway code (every target, and AVX3 without VNNI): i8 → i16,
//    ReorderWidenMulAccumulate (pairwise i16 products into i32), one exact
//    I_g per group.
// allow_intrinsics = false (tests) forces the portable kernel on any target.
#if defined(GEMMA3_OPS_MATVEC_QUANT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_OPS_MATVEC_QUANT_INL_H_
#undef GEMMA3_OPS_MATVEC_QUANT_INL_H_
#else
#define GEMMA3_OPS_MATVEC_QUANT_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include "gemma3/ops/matmul-inl.hpp"

// Unrolls a loop over the rows of a kernel so that their accumulators stay
// in registers (GCC does not unroll at -O2).
#ifndef GEMMA3_UNROLL
#if defined(__GNUC__) || defined(__clang__)
#define GEMMA3_UNROLL _Pragma("GCC unroll 8")
#else
#define GEMMA3_UNROLL
#endif
#endif

// The VNNI path: x86 AVX3 targets, GCC or Clang (function target attributes).
#undef GEMMA3_OPS_VNNI
#if HWY_ARCH_X86 && (HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL) && \
    (HWY_COMPILER_GCC_ACTUAL >= 900 || HWY_COMPILER_CLANG >= 900)
#define GEMMA3_OPS_VNNI 1
#include <immintrin.h>
// The target's own features plus VNNI (Clang replaces, not extends, the
// features of the surrounding target pragma with a function's attribute).
#undef GEMMA3_OPS_VNNI_ATTR
#define GEMMA3_OPS_VNNI_ATTR __attribute__((target(HWY_TARGET_STR ",avx512vnni")))

#else
#define GEMMA3_OPS_VNNI 0
#endif

// The AVX2 path: pmaddubsw (u8 × s8 → i16 pairs) + pmaddwd, as llama.cpp's
// AVX2 q4_0/q8_0 dot products; every AVX2 CPU has both.
#undef GEMMA3_OPS_AVX2
#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
#define GEMMA3_OPS_AVX2 1
#include <immintrin.h>
#else
#define GEMMA3_OPS_AVX2 0
#endif

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Where the prepared x of a Q8/Q4 matvec lies (bytes from the buffer start).
// A block is 64 bytes of weights: 2 Q8 groups or 4 Q4 groups.
//   header  int32: 1 = the target's intrinsic kernel runs (VNNI or AVX2)
//   dx      f32 per group, zero past the last group (+16 for whole-vector loads)
//   xq      int8, the order the kernels read: Q8 natural (64 per block);
//           Q4 per block the low-nibble elements of its 4 groups (j = 0…15
//           of each), then the high-nibble ones (j = 16…31): 128 per block
//   corr    int32 per 32-bit lane of a block (16 per block): −128·Σ (Q8) or
//           −8·Σ (Q4) of the xq that lane multiplies (VNNI and AVX2 paths)
//   x16     the xq as int16, same order (portable path only: widened once
//           per call instead of once per row)
struct QuantX {
  size_t groups, blocks, group_bytes, xq_per_block;
  size_t off_dx, off_xq, off_corr, off_x16, bytes;
};

inline QuantX QuantXLayout(const MatView& W) {
  QuantX L;
  const bool q8 = W.type == WeightType::Q8;
  L.groups = W.groups_per_row();
  const size_t gpb = q8 ? 2 : 4;
  L.blocks = (L.groups + gpb - 1) / gpb;
  L.group_bytes = q8 ? 32 : 16;
  L.xq_per_block = q8 ? 64 : 128;
  L.off_dx = 64;
  L.off_xq = L.off_dx + align_up((L.blocks * gpb + 16) * sizeof(float), 64);
  L.off_corr = L.off_xq + L.blocks * L.xq_per_block;
  L.off_x16 = L.off_corr + L.blocks * 16 * sizeof(int32_t);
  L.bytes = L.off_x16 + L.blocks * L.xq_per_block * sizeof(int16_t);
  return L;
}

// Software prefetch of the Q8/Q4 kernels, per row stream: kPrefetchBytes of
// weights and a quarter of that of scales ahead of use. One core reading 2R
// streams (weights and scales of R rows) needs more requests in flight than
// the hardware prefetcher issues: measured on 1 core (Zen 5, DRAM), Q4
// 25 → 39 GB/s once the scales were prefetched too.
constexpr size_t kQuantLeadBytes = kPrefetchBytes;
constexpr size_t kQuantScaleLead = kPrefetchBytes / 4 / sizeof(uint16_t);  // groups

// Index in xq of element k (0…31) of group g.
inline size_t QuantXIndex(WeightType t, size_t g, size_t k) {
  if (t == WeightType::Q8) return g * 32 + k;
  return (g / 4) * 128 + (k < 16 ? 0 : 64) + (g % 4) * 16 + (k % 16);
}

#if GEMMA3_OPS_VNNI
// Checked once per process (__builtin_cpu_supports reads a table the C
// runtime filled at start-up; Highway's SupportedTargets() would run cpuid,
// tens of µs in a VM).
inline bool CpuHasVnni() {
  static const bool has = __builtin_cpu_supports("avx512vnni") != 0;
  return has;
}
#endif

// Quantizes x (W.cols floats) for a Q8/Q4 matvec into xp (QuantXLayout(W).bytes
// bytes, 4-byte aligned). allow_intrinsics = false forces the portable kernel.
inline void PrepareQuantX(const MatView& W, const float* HWY_RESTRICT x, uint8_t* HWY_RESTRICT xp,
                          bool allow_intrinsics) {
  const QuantX L = QuantXLayout(W);
  const DQ d;  // ≤ 16 lanes: a vector never straddles a 16-element run of xq
  const hn::RebindToSigned<DQ> di;
  const hn::Rebind<int8_t, DQ> d8;
  const size_t N = hn::Lanes(d);
  int32_t vnni = 0;  // 1: the target's intrinsic kernel (VNNI, AVX2) runs
#if GEMMA3_OPS_VNNI
  vnni = allow_intrinsics && CpuHasVnni() ? 1 : 0;
#elif GEMMA3_OPS_AVX2
  vnni = allow_intrinsics ? 1 : 0;
#else
  (void)allow_intrinsics;
#endif
  hwy::CopyBytes<4>(&vnni, xp);
  const bool q8 = W.type == WeightType::Q8;
  float* dx = reinterpret_cast<float*>(xp + L.off_dx);
  int8_t* xq = reinterpret_cast<int8_t*>(xp + L.off_xq);
  int32_t* corr = reinterpret_cast<int32_t*>(xp + L.off_corr);
  const size_t gpb = q8 ? 2 : 4;
  for (size_t g = L.groups; g < L.blocks * gpb + 16; ++g) dx[g] = 0.0f;
  int16_t* x16 = reinterpret_cast<int16_t*>(xp + L.off_x16);
  const hn::Rebind<int16_t, DQ> d16;
  // Groups past the last one (inside the last block) multiply nothing: zero.
  for (size_t i = L.groups * kQuantGroup; i < L.blocks * L.xq_per_block; ++i) {
    const size_t at = q8 ? i : QuantXIndex(W.type, i / kQuantGroup, i % kQuantGroup);
    xq[at] = 0;
    x16[at] = 0;
  }
  HWY_ALIGN float v[kQuantGroup];
  HWY_ALIGN int32_t qi[kQuantGroup];
  const auto fmax = hn::Set(d, std::numeric_limits<float>::max());
  for (size_t g = 0; g < L.groups; ++g) {
    const size_t c0 = g * kQuantGroup;
    const size_t count = W.cols - c0 < kQuantGroup ? W.cols - c0 : kQuantGroup;
    const float* xg = x + c0;
    if (count < kQuantGroup) {  // short last group: zero-padded copy
      for (size_t k = 0; k < kQuantGroup; ++k) v[k] = k < count ? x[c0 + k] : 0.0f;
      xg = v;
    }
    auto vmax = hn::Zero(d);
    bool finite = true;  // false for inf or NaN (NaN compares false)
    for (size_t k = 0; k < kQuantGroup; k += N) {
      const auto a = hn::Abs(hn::LoadU(d, xg + k));
      finite = finite && hn::AllTrue(d, hn::Le(a, fmax));
      vmax = hn::Max(vmax, a);
    }
    const float amax = hn::GetLane(hn::MaxOfLanes(d, vmax));
    dx[g] = !finite ? std::numeric_limits<float>::quiet_NaN()  // y = NaN, as in f32
                    : amax / 127.0f;                           // 0 for a group of zeros
    const auto vdx = hn::Set(d, dx[g]);
    for (size_t k = 0; k < kQuantGroup; k += N) {
      // |x/dx| ≤ 127 up to one rounding of the division, so |round| ≤ 127.
      // dx = 0 or NaN: the quotient is NaN (or ±inf), replaced by 0 before
      // the conversion.
      auto r = hn::Round(hn::Div(hn::LoadU(d, xg + k), vdx));
      r = hn::IfThenElseZero(hn::Le(hn::Abs(r), hn::Set(d, 127.0f)), r);
      const auto q = hn::ConvertTo(di, r);
      hn::Store(q, di, qi + k);
      if (vnni) hn::StoreU(hn::DemoteTo(d8, q), d8, xq + QuantXIndex(W.type, g, k));
      else hn::StoreU(hn::DemoteTo(d16, q), d16, x16 + QuantXIndex(W.type, g, k));
    }
    if (!vnni) continue;
    // Corrections of the VNNI/AVX2 paths: lane i of a block multiplies the xq bytes
    // 4i…4i+3 of the block (Q4: of both halves), i.e. for this group the lanes
    // 8·(g%2) + m (Q8) or 4·(g%4) + m (Q4), m counting 4-element runs.
    const int32_t offset = q8 ? 128 : 8;
    int32_t* cb = corr + (g / gpb) * 16 + (g % gpb) * (16 / gpb);
    for (size_t m = 0; m < 16 / gpb; ++m) {
      int32_t sum = qi[4 * m] + qi[4 * m + 1] + qi[4 * m + 2] + qi[4 * m + 3];
      if (!q8) sum += qi[16 + 4 * m] + qi[17 + 4 * m] + qi[18 + 4 * m] + qi[19 + 4 * m];
      cb[m] = -offset * sum;
    }
  }
  if (vnni)  // lanes of the padding groups of the last block
    for (size_t g = L.groups; g < L.blocks * gpb; ++g)
      for (size_t m = 0; m < 16 / gpb; ++m) corr[(g / gpb) * 16 + (g % gpb) * (16 / gpb) + m] = 0;
}

// ---- portable kernel ---------------------------------------------------------

// Exact integer sums I_g = Σ_k q_k·xq_k for group g of R rows, r + i·stride,
// as i16 × i16 → i32 pairwise products (ReorderWidenMulAccumulate: pmaddwd on
// x86), then y = Σ_g c_g·I_g lane-wise in f32. The R rows are a
// ForRowStreams group sharing each load of x (here pre-widened to i16), and
// each row's arithmetic does not depend on R.
template <WeightType kType, size_t R>
HWY_INLINE void RowsQuantPortable(const MatView& W, const QuantX& L, const float* dx,
                                  const int16_t* HWY_RESTRICT x16, size_t r, size_t stride,
                                  float* y) {
  const hn::CappedTag<int16_t, 16> d16;  // ≤ 16 lanes: a group is whole vectors
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Rebind<float, decltype(d32)> df;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const hn::RebindToUnsigned<decltype(d16)> du16;
  const size_t N = hn::Lanes(d16);
  const uint8_t* q[R];
  const uint16_t* s[R];
  // Lane-wise f32 sums of each row, kept in memory: SVE vectors are sizeless
  // and cannot form an array (the compiler keeps these in registers where it can).
  HWY_ALIGN float acc[R][16];
  HWY_ALIGN float scale[R][16];
  for (size_t i = 0; i < R; ++i) {
    q[i] = W.row(r + i * stride);
    s[i] = W.scales(r + i * stride);
    hn::Store(hn::Zero(df), df, acc[i]);
  }
  const auto mask = hn::Set(d16, int16_t{0x0F});
  const auto eight = hn::Set(d16, int16_t{8});
  for (size_t g0 = 0; g0 < L.groups; g0 += 16) {
    const size_t count = L.groups - g0 < 16 ? L.groups - g0 : 16;
    for (size_t i = 0; i < R; ++i) {
      // Prefetch as the VNNI kernel does: weights and scales (past the row's
      // end: the stream's next row).
      for (size_t b = 0; b < 16 * L.group_bytes; b += 64)
        hwy::Prefetch(q[i] + g0 * L.group_bytes + kQuantLeadBytes + b);
      hwy::Prefetch(s[i] + g0 + kQuantScaleLead);
      LoadScales(s[i] + g0, count, scale[i]);
    }
    for (size_t k = 0; k < count; ++k) {
      const size_t g = g0 + k;
      const int16_t* xlo = x16 + QuantXIndex(kType, g, 0);  // Q8: all 32
      const int16_t* xhi = x16 + QuantXIndex(kType, g, 16);
      GEMMA3_UNROLL
      for (size_t i = 0; i < R; ++i) {
        auto s0 = hn::Zero(d32), s1 = hn::Zero(d32);
        if (kType == WeightType::Q8) {
          const int8_t* w = reinterpret_cast<const int8_t*>(q[i]) + g * 32;
          for (size_t kk = 0; kk < 32; kk += N)
            s0 = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, hn::LoadU(d8, w + kk)),
                                               hn::LoadU(d16, xlo + kk), s0, s1);
        } else {
          const uint8_t* p = q[i] + g * 16;
          for (size_t kk = 0; kk < 16; kk += N) {
            const auto bytes = hn::BitCast(d16, hn::PromoteTo(du16, hn::LoadU(du8, p + kk)));
            const auto lo = hn::Sub(hn::And(bytes, mask), eight);
            const auto hi = hn::Sub(hn::ShiftRight<4>(bytes), eight);
            s0 = hn::ReorderWidenMulAccumulate(d32, lo, hn::LoadU(d16, xlo + kk), s0, s1);
            s0 = hn::ReorderWidenMulAccumulate(d32, hi, hn::LoadU(d16, xhi + kk), s0, s1);
          }
        }
        const auto c = hn::Set(df, scale[i][k] * dx[g]);
        hn::Store(hn::MulAdd(hn::ConvertTo(df, hn::Add(s0, s1)), c, hn::Load(df, acc[i])), df,
                  acc[i]);
      }
    }
  }
  for (size_t i = 0; i < R; ++i)
    y[r + i * stride] = hn::GetLane(hn::SumOfLanes(df, hn::Load(df, acc[i])));
}

// ---- AVX-512 VNNI kernel -------------------------------------------------------

#if GEMMA3_OPS_VNNI
// One 64-byte block of weights → 16 lanes of exact partial sums Σ q·xq (4 or
// 8 elements each): x0/x1 the block's xq (Q4: low-, then high-nibble
// elements), corr its lane corrections.
template <WeightType kType>
GEMMA3_OPS_VNNI_ATTR inline __m512i BlockDotVnni(__m512i raw, __m512i x0, __m512i x1,
                                                 __m512i corr) {
  if (kType == WeightType::Q8) {  // q + 128 = q XOR 0x80 (unsigned)
    const __m512i u = _mm512_xor_si512(raw, _mm512_set1_epi8(char(0x80)));
    return _mm512_dpbusd_epi32(corr, u, x0);
  }
  const __m512i m = _mm512_set1_epi8(0x0F);  // nibbles are q + 8 (unsigned)
  const __m512i lo = _mm512_and_si512(raw, m);
  const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m);
  return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(corr, lo, x0), hi, x1);
}

// R rows at once, r + i·stride for i < R (ForRowStreams): the x block (xq,
// corrections) and the lane → group permutation are loaded once for R rows
// and the loop overhead is shared — one core then runs ~12 instructions per
// 64-byte block of Q4 instead of ~30 (in L2: 36 → 70 GB/s). Each row's
// arithmetic is the same for any R and stride (one accumulator, blocks in
// order).
template <WeightType kType, size_t R>
GEMMA3_OPS_VNNI_ATTR inline void RowsQuantVnni(const MatView& W, const QuantX& L, const float* dx,
                                               const int8_t* xq, const int32_t* corr, size_t r,
                                               size_t stride, float* y) {
  constexpr size_t kGpb = kType == WeightType::Q8 ? 2 : 4;  // groups per block
  constexpr size_t kBpv = 16 / kGpb;                        // blocks per 16 scales
  const size_t rb = W.row_stride();
  const uint8_t* q[R];
  const uint16_t* s[R];
  __m512 acc[R];
  for (size_t i = 0; i < R; ++i) {
    q[i] = W.row(r + i * stride);
    s[i] = W.scales(r + i * stride);
    acc[i] = _mm512_setzero_ps();
  }
  // Lane i of a block belongs to group i/8 (Q8) or i/4 (Q4) of the block.
  const __m512i lane_group =
      _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                        kType == WeightType::Q8 ? 3 : 2);
  for (size_t b0 = 0; b0 < L.blocks; b0 += kBpv) {
    // c_g = scale_g · dx_g for the next 16 groups (scales masked past the
    // row; dx is zero-padded by 16).
    const size_t g0 = b0 * kGpb;
    const size_t cnt = L.groups - g0 < 16 ? L.groups - g0 : 16;
    const __mmask16 sm = __mmask16((1u << cnt) - 1u);
    const __m512 dxv = _mm512_loadu_ps(dx + g0);
    __m512 cv[R];
    GEMMA3_UNROLL
    for (size_t i = 0; i < R; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(s[i] + g0 + kQuantScaleLead), _MM_HINT_T0);
      cv[i] = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(sm, s[i] + g0)), dxv);
    }
    const size_t nb = L.blocks - b0 < kBpv ? L.blocks - b0 : kBpv;
    for (size_t k = 0; k < nb; ++k) {
      const size_t b = b0 + k;
      const int8_t* xb = xq + b * L.xq_per_block;
      const __m512i x0 = _mm512_loadu_si512(xb);
      const __m512i x1 = kType == WeightType::Q4 ? _mm512_loadu_si512(xb + 64) : x0;
      const __m512i c = _mm512_loadu_si512(corr + b * 16);
      const __m512i idx = _mm512_add_epi32(lane_group, _mm512_set1_epi32(int(k * kGpb)));
      // The last block of a row may reach past it: masked load (no fault).
      const size_t left = rb - b * 64;
      const __mmask64 lm = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
      // kQuantLeadBytes ahead in each row stream, continuing into the next row.
      const size_t pf = b * 64 + kQuantLeadBytes;
      GEMMA3_UNROLL  // acc[] and cv[] must stay in registers (GCC -O2 does not unroll)
          for (size_t i = 0; i < R; ++i) {
        const uint8_t* p = q[i] + b * 64;
        _mm_prefetch(reinterpret_cast<const char*>(q[i] + pf), _MM_HINT_T0);
        const __m512i raw = left >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(lm, p);
        const __m512i ia = BlockDotVnni<kType>(raw, x0, x1, c);
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_permutexvar_ps(idx, cv[i]), acc[i]);
      }
    }
  }
  for (size_t i = 0; i < R; ++i) y[r + i * stride] = _mm512_reduce_add_ps(acc[i]);
}
#endif  // GEMMA3_OPS_VNNI

// ---- AVX2 kernel --------------------------------------------------------------

#if GEMMA3_OPS_AVX2
// The VNNI kernel's arithmetic on 32-byte halves of a block, without VNNI:
//  Q4: pmaddubsw(nibble q + 8, xq) → i16 pairs (|·| ≤ 2·15·127, no
//      saturation), low and high nibbles added (≤ 7620), pmaddwd with ones
//      → i32 lanes, plus the VNNI path's lane corrections −8·Σxq: exact.
//  Q8: pmaddubsw(|xq|, sign(q, xq)) (llama.cpp's trick: ≤ 2·127·127), then
//      pmaddwd with ones: exact, no correction.
// Lane i of a half-block covers bytes 4i…4i+3, i.e. group i/4 (Q4: of the
// half's two groups) or the half's one group (Q8).
template <WeightType kType, size_t R>
HWY_INLINE void RowsQuantAvx2(const MatView& W, const QuantX& L, const float* dx, const int8_t* xq,
                              const int32_t* corr, size_t r, size_t stride, float* y) {
  constexpr size_t kGph = kType == WeightType::Q8 ? 1 : 2;  // groups per 32-byte half
  const size_t rb = W.row_stride();
  const uint8_t* q[R];
  const uint16_t* s[R];
  __m256 acc[R];
  for (size_t i = 0; i < R; ++i) {
    q[i] = W.row(r + i * stride);
    s[i] = W.scales(r + i * stride);
    acc[i] = _mm256_setzero_ps();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  // Q4: lanes 0–3 take the half's first group, 4–7 its second.
  const __m256i pair = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  HWY_ALIGN float c[R][16];
  for (size_t g0 = 0; g0 < L.groups; g0 += 16) {
    const size_t cnt = L.groups - g0 < 16 ? L.groups - g0 : 16;
    for (size_t i = 0; i < R; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(s[i] + g0 + kQuantScaleLead), _MM_HINT_T0);
      LoadScales(s[i] + g0, cnt, c[i]);
      for (size_t k = 0; k < 16; ++k) c[i][k] *= dx[g0 + k];  // dx is zero-padded
    }
    const size_t h0 = g0 / kGph, nh = (cnt + kGph - 1) / kGph;
    for (size_t t = 0; t < nh; ++t) {
      const size_t h = h0 + t, b = h / 2, half = h % 2;
      const int8_t* xb = xq + b * L.xq_per_block + half * 32;
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb));
      __m256i x1 = x0, corr8 = _mm256_setzero_si256();
      if (kType == WeightType::Q4) {
        x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 64));
        corr8 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(corr + b * 16 + half * 8));
      } else {
        x1 = _mm256_sign_epi8(x0, x0);  // |xq|
      }
      const size_t off = h * 32;  // byte offset of this half in the row
      const size_t left = rb - off;
      GEMMA3_UNROLL
      for (size_t i = 0; i < R; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(q[i] + off + kQuantLeadBytes), _MM_HINT_T0);
        __m256i raw;
        if (left >= 32) {
          raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[i] + off));
        } else {  // a row's last partial half: copy (no read past the row)
          HWY_ALIGN uint8_t tmp[32] = {};
          for (size_t k = 0; k < left; ++k) tmp[k] = q[i][off + k];
          raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(tmp));
        }
        __m256i isum;
        __m256 sc;
        if (kType == WeightType::Q4) {
          const __m256i lo = _mm256_and_si256(raw, m4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
          const __m256i p16 =
              _mm256_add_epi16(_mm256_maddubs_epi16(lo, x0), _mm256_maddubs_epi16(hi, x1));
          isum = _mm256_add_epi32(_mm256_madd_epi16(p16, ones), corr8);
          const size_t gl = t * 2 % 8;  // first group of this half among c[i][8·(t/4)…]
          sc = _mm256_permutevar8x32_ps(_mm256_loadu_ps(c[i] + 8 * (t / 4)),
                                        _mm256_add_epi32(pair, _mm256_set1_epi32(int(gl))));
        } else {
          const __m256i p16 = _mm256_maddubs_epi16(x1, _mm256_sign_epi8(raw, x0));
          isum = _mm256_madd_epi16(p16, ones);
          sc = _mm256_broadcast_ss(c[i] + t);
        }
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), sc, acc[i]);
      }
    }
  }
  for (size_t i = 0; i < R; ++i) {
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc[i]), _mm256_extractf128_ps(acc[i], 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    y[r + i * stride] = _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
  }
}
#endif  // GEMMA3_OPS_AVX2

// ---- entry points ------------------------------------------------------------

// Bytes of prepared x (MatVecPrepare) for a Q8/Q4 matrix, as floats.
inline size_t MatVecPreparedFloats(const MatView& W) { return (QuantXLayout(W).bytes + 3) / 4; }

// x for MatVecRows of a Q8/Q4 matrix (MatVecPreparedFloats(W) floats).
inline void MatVecPrepare(const MatView& W, const float* x, float* xp, bool allow_intrinsics) {
  PrepareQuantX(W, x, reinterpret_cast<uint8_t*>(xp), allow_intrinsics);
}

// The rows [r0, r1) of a Q8/Q4 matrix as ForRowStreams groups, on the
// kernel MatVecPrepare chose (its header word): the target's intrinsic one
// (VNNI on AVX3, pmaddubsw on AVX2) or the portable one.
template <WeightType kType>
HWY_INLINE void MatVecRowsQuant(const MatView& W, const float* xp, float* y, size_t r0, size_t r1) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(xp);
  const QuantX L = QuantXLayout(W);
  const float* dx = reinterpret_cast<const float*>(p + L.off_dx);
#if GEMMA3_OPS_VNNI || GEMMA3_OPS_AVX2
  int32_t intrinsic;
  hwy::CopyBytes<4>(p, &intrinsic);
  if (intrinsic) {
    const int8_t* xq = reinterpret_cast<const int8_t*>(p + L.off_xq);
    const int32_t* corr = reinterpret_cast<const int32_t*>(p + L.off_corr);
    ForRowStreams(r0, r1, [&](auto R, size_t r, size_t stride) {
#if GEMMA3_OPS_VNNI
      RowsQuantVnni<kType, decltype(R)::value>(W, L, dx, xq, corr, r, stride, y);
#else
      RowsQuantAvx2<kType, decltype(R)::value>(W, L, dx, xq, corr, r, stride, y);
#endif
    });
    return;
  }
#endif
  const int16_t* x16 = reinterpret_cast<const int16_t*>(p + L.off_x16);
  ForRowStreams(r0, r1, [&](auto R, size_t r, size_t stride) {
    RowsQuantPortable<kType, decltype(R)::value>(W, L, dx, x16, r, stride, y);
  });
}

// y[r] = Σ_c W[r,c]·x[c] for r in [r0, r1). For Q8/Q4, x must have been
// prepared by MatVecPrepare.
inline void MatVecRows(const MatView& W, const float* x, float* y, size_t r0, size_t r1) {
  switch (W.type) {
    case WeightType::F32: return MatVecRowsDense<float>(W, x, y, r0, r1);
    case WeightType::BF16: return MatVecRowsDense<uint16_t>(W, x, y, r0, r1);
    case WeightType::Q8: return MatVecRowsQuant<WeightType::Q8>(W, x, y, r0, r1);
    case WeightType::Q4: return MatVecRowsQuant<WeightType::Q4>(W, x, y, r0, r1);
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_OPS_MATVEC_QUANT_INL_H_
