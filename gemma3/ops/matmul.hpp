// gemma3/ops/matmul.hpp — weight-matrix products, for the four weight types
// of gemma3/tensor.hpp (F32, BF16, Q8, Q4), decompressing inside the loops.
//
// Bit-identical results for any thread count: work is split by output rows /
// columns only, and each output has one fixed summation order. matvec(x) and
// row 0 of matmul(X, n=1) are NOT bitwise equal: for F32/BF16 the summation
// orders differ (both are f32 sums of the same products); for Q8/Q4 matvec
// also quantizes x to 8 bits (see matvec), matmul does not.
#pragma once

#include <string>
#include <vector>

#include "gemma3/error.hpp"
#include "gemma3/ops/dispatch.hpp"
#include "gemma3/ops/vector.hpp"

namespace gemma3::ops {

HWY_EXPORT(MatVecRows);
HWY_EXPORT(MatVecPrepare);
HWY_EXPORT(MatVecPreparedFloats);
HWY_EXPORT(MatMulTask);
HWY_EXPORT(MatMulScratchFloats);

namespace detail {
inline void check_weight(const MatView& W, const char* what) {
  if (W.type != WeightType::F32 && W.type != WeightType::BF16 && W.type != WeightType::Q8 &&
      W.type != WeightType::Q4) {
    throw Error(std::string(what) + ": unknown weight type " +
                std::to_string(static_cast<uint32_t>(W.type)));
  }
  if (W.data == nullptr && W.rows != 0 && W.cols != 0) {
    throw Error(std::string(what) + ": weight matrix has no data");
  }
}
}  // namespace detail

namespace detail {
// y_i = W_i·x for i < count, in one parallel region: x prepared once (Q8/Q4:
// quantized to int8 per 32-group, in the order the target's kernel reads
// it, matvec_quant-inl.hpp), then blocks of rows of every matrix, matrix
// after matrix, as tasks. The W_i have the same type and cols, rows > 0 and
// cols > 0. Any split gives the same bits (per-row arithmetic is fixed), so
// the block size only balances the load. allow_intrinsics = false runs the
// portable integer kernel even where an intrinsic one could (tests).
inline void matvec_rows(const MatView* const* W, float* const* y, size_t count, const float* x,
                        const ThreadContext& ctx, bool allow_intrinsics) {
  std::vector<float> prepared;
  if (is_quantized(W[0]->type)) {
    prepared.resize(HWY_DYNAMIC_DISPATCH(MatVecPreparedFloats)(*W[0]));
    HWY_DYNAMIC_DISPATCH(MatVecPrepare)(*W[0], x, prepared.data(), allow_intrinsics);
    x = prepared.data();
  }
  size_t rows = 0;
  for (size_t i = 0; i < count; ++i) rows += W[i]->rows;
  const size_t work = rows * W[0]->cols;
  const size_t nt = size_t(effective_threads(ctx, rows, work));
  size_t block = (rows + 8 * nt - 1) / (8 * nt);
  block = (block + 15) / 16 * 16;           // ≥ 16 rows, multiple of 4
  std::vector<size_t> first(count + 1, 0);  // the first task of each matrix
  for (size_t i = 0; i < count; ++i) first[i + 1] = first[i] + (W[i]->rows + block - 1) / block;
  auto fn = HWY_DYNAMIC_DISPATCH(MatVecRows);
  parallel_for(
      first[count], ctx,
      [&](size_t t, int) {
        size_t i = 0;
        while (t >= first[i + 1]) ++i;
        const size_t r0 = (t - first[i]) * block;
        const size_t r1 = r0 + block < W[i]->rows ? r0 + block : W[i]->rows;
        fn(*W[i], x, y[i], r0, r1);
      },
      work);
}

// matvec with a choice of the Q8/Q4 kernel (see matvec_rows).
inline void matvec_impl(const MatView& W, const float* x, float* y, const ThreadContext& ctx,
                        bool allow_intrinsics) {
  check_weight(W, "matvec");
  if (W.rows == 0) return;
  if (W.cols == 0) {
    for (size_t r = 0; r < W.rows; ++r) y[r] = 0.0f;
    return;
  }
  const MatView* Ws[1] = {&W};
  float* ys[1] = {y};
  matvec_rows(Ws, ys, 1, x, ctx, allow_intrinsics);
}
}  // namespace detail

// Matrix–vector product, W [rows, cols], x [cols], y [rows]:
//
//   F32/BF16:  y[r] = Σ_c W[r, c] · x[c]
//              (W widened exactly to f32; lane-wise f32 accumulators over the
//              row, then the lane sum — this runs at memory speed)
//   Q8/Q4:     x is first quantized per 32-element group g (8-bit × 8-bit
//              products, like llama.cpp's q8_0/q4_0 paths):
//                dx_g = f32(max_{k∈g}|x_k| / 127),  xq_k = round_half_even(x_k / dx_g)
//              then y[r] = Σ_g f32(scale_g · dx_g) · Σ_{k∈g} q_k·xq_k
//              (the inner sums exact integers, the outer one in f32). The
//              quantization of x adds at most Σ_k |W[r,k]|·dx_g/2 to the
//              error; NaN/inf in a group of x make y NaN.
// Rows are split among threads (ctx); y must not overlap x. Results are
// bit-identical for any thread count.
inline void matvec(const MatView& W, const float* x, float* y, const ThreadContext& ctx) {
  detail::matvec_impl(W, x, y, ctx, true);
}

// Several matrix–vector products with the same x, in ONE parallel region
// (q/k/v, gate/up of a decode step): y_i = W_i·x for i < count, each exactly
// as matvec computes it (same bits). x is quantized once when the W_i are
// Q8/Q4. The W_i must have the same cols and type; otherwise this falls back
// to one matvec per matrix. Fewer regions means fewer barriers per token,
// each of which costs a scheduler slice when a thread was descheduled.
inline void matvec_multi(const MatView* const* W, float* const* y, size_t count, const float* x,
                         const ThreadContext& ctx) {
  bool same = count > 0;
  for (size_t i = 0; i < count; ++i) {
    detail::check_weight(*W[i], "matvec_multi");
    same = same && W[i]->type == W[0]->type && W[i]->cols == W[0]->cols && W[i]->rows > 0;
  }
  if (!same || W[0]->cols == 0) {
    for (size_t i = 0; i < count; ++i) matvec(*W[i], x, y[i], ctx);
    return;
  }
  detail::matvec_rows(W, y, count, x, ctx, true);
}

// Matrix–matrix product (nn.Linear without or with bias), W [rows, cols],
// X [n, cols] row-major, Y [n, rows] row-major, bias [rows] or nullptr:
//
//   for i in 0 … n-1, j in 0 … rows-1:
//     Y[i, j] = (Σ_{k=0}^{cols-1} X[i, k] · W[j, k])  (+ bias[j])
//
// with each sum one sequential f32 FMA chain k = 0, 1, … (so Y does not
// depend on blocking, thread count, or n). Cache tiling: for each 256-deep
// slice of k, a block of W rows is decoded once into an f32 panel that stays
// in L2 and is reused by all n rows of X; a register-blocked micro-kernel
// computes 8 (6 on 16-register targets) rows of X by 2 vectors of W rows.
// Y must not overlap X.
inline void matmul(const MatView& W, const float* X, size_t n, float* Y, const ThreadContext& ctx,
                   const float* bias = nullptr) {
  detail::check_weight(W, "matmul");
  if (n == 0 || W.rows == 0) return;
  if (W.cols == 0) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < W.rows; ++j) Y[i * W.rows + j] = bias ? bias[j] : 0.0f;
    }
    return;
  }
  // Tasks: blocks of 128 W rows × blocks of X rows. Splitting X rows costs a
  // re-decode of the W block, so it is done only when W blocks are too few
  // to keep the threads busy.
  const size_t nc = 128;
  const size_t jblocks = (W.rows + nc - 1) / nc;
  const size_t work = W.rows * W.cols * n;
  const size_t nt = size_t(effective_threads(ctx, jblocks * n, work));
  size_t iblocks = 1;
  while (jblocks * iblocks < 4 * nt && n / (2 * iblocks) >= 64) iblocks *= 2;
  const size_t mc = (n + iblocks - 1) / iblocks;
  const size_t tasks = jblocks * iblocks;
  // One scratch block (the packed W panel, ~130 KB) per thread, 64-byte aligned.
  const size_t per_thread = HWY_DYNAMIC_DISPATCH(MatMulScratchFloats)(nc) + 16;
  std::vector<float> scratch(per_thread * size_t(effective_threads(ctx, tasks)));
  auto fn = HWY_DYNAMIC_DISPATCH(MatMulTask);
  parallel_for(
      tasks, ctx,
      [&](size_t t, int thread) {
        const size_t jb = t % jblocks, ib = t / jblocks;
        const size_t j0 = jb * nc, j1 = j0 + nc < W.rows ? j0 + nc : W.rows;
        const size_t i0 = ib * mc, i1 = i0 + mc < n ? i0 + mc : n;
        float* s = scratch.data() + size_t(thread) * per_thread;
        s += (64 - reinterpret_cast<uintptr_t>(s) % 64) % 64 / sizeof(float);
        if (i0 < i1) fn(W, X, Y, bias, i0, i1, j0, j1, s);
      },
      work);
}

}  // namespace gemma3::ops
