// gemma3/ops/matmul.hpp — weight-matrix products, for the four weight types
// of gemma3/tensor.hpp (F32, BF16, Q8, Q4), decompressing inside the loops.
//
// Bit-identical results for any thread count: work is split by output rows /
// columns only, and each output has one fixed summation order. matvec(x) and
// row 0 of matmul(X, n=1) are NOT bitwise equal (different summation orders;
// both are f32 sums of the same products).
#pragma once

#include <string>
#include <vector>

#include "gemma3/error.hpp"
#include "gemma3/ops/dispatch.hpp"
#include "gemma3/ops/vector.hpp"

namespace gemma3 {
namespace ops {

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

// Matrix–vector product, W [rows, cols], x [cols], y [rows]:
//
//   for r in 0 … rows-1:  y[r] = Σ_c W[r, c] · x[c]
//
// where W[r, c] is the stored value widened to f32 (F32, BF16) or q·scale
// of its group (Q8, Q4). How it is summed (this is what decode time is spent
// on, so it runs at memory speed):
//   F32/BF16: lane-wise f32 accumulators over the row, then the lane sum.
//   Q8/Q4:    per 32-element group g, s_g = Σ q_k·x[k] in f32 (the integers
//             are widened with integer ops, then converted), then
//             y[r] = Σ_g scale_g · s_g — one multiply by the scale per group.
// Rows are split among threads (ctx); y must not overlap x.
inline void matvec(const MatView& W, const float* x, float* y, const ThreadContext& ctx) {
  detail::check_weight(W, "matvec");
  if (W.rows == 0) return;
  if (W.cols == 0) {
    for (size_t r = 0; r < W.rows; ++r) y[r] = 0.0f;
    return;
  }
  // Quantized rows are read in whole blocks of groups (zero-padded in the
  // file); their x is zero-padded to match and reordered the way the
  // target's decode unpacks the weights (once per call, not per row).
  std::vector<float> prepared;
  if (is_quantized(W.type)) {
    prepared.resize(HWY_DYNAMIC_DISPATCH(MatVecPreparedFloats)(W));
    HWY_DYNAMIC_DISPATCH(MatVecPrepare)(W, x, prepared.data());
    x = prepared.data();
  }
  // Blocks of rows; any split gives the same bits (per-row arithmetic is
  // fixed), so the block size only balances the load.
  const size_t nt = size_t(effective_threads(ctx, W.rows));
  size_t block = (W.rows + 8 * nt - 1) / (8 * nt);
  block = (block + 15) / 16 * 16;  // ≥ 16 rows, multiple of 4
  const size_t tasks = (W.rows + block - 1) / block;
  auto fn = HWY_DYNAMIC_DISPATCH(MatVecRows);
  parallel_for(tasks, ctx, [&](size_t t, int) {
    const size_t r0 = t * block;
    const size_t r1 = r0 + block < W.rows ? r0 + block : W.rows;
    fn(W, x, y, r0, r1);
  });
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
  const size_t nt = size_t(effective_threads(ctx, jblocks * n));
  size_t iblocks = 1;
  while (jblocks * iblocks < 4 * nt && n / (2 * iblocks) >= 64) iblocks *= 2;
  const size_t mc = (n + iblocks - 1) / iblocks;
  const size_t tasks = jblocks * iblocks;
  // One scratch block (the packed W panel, ~130 KB) per thread, 64-byte aligned.
  const size_t per_thread = HWY_DYNAMIC_DISPATCH(MatMulScratchFloats)(nc) + 16;
  std::vector<float> scratch(per_thread * size_t(effective_threads(ctx, tasks)));
  auto fn = HWY_DYNAMIC_DISPATCH(MatMulTask);
  parallel_for(tasks, ctx, [&](size_t t, int thread) {
    const size_t jb = t % jblocks, ib = t / jblocks;
    const size_t j0 = jb * nc, j1 = j0 + nc < W.rows ? j0 + nc : W.rows;
    const size_t i0 = ib * mc, i1 = i0 + mc < n ? i0 + mc : n;
    float* s = scratch.data() + size_t(thread) * per_thread;
    s += (64 - reinterpret_cast<uintptr_t>(s) % 64) % 64 / sizeof(float);
    if (i0 < i1) fn(W, X, Y, bias, i0, i1, j0, j1, s);
  });
}

// Y[i, j] += bias[j] for a [n, cols] row-major Y.
inline void add_bias(float* Y, const float* bias, size_t n, size_t cols) {
  for (size_t i = 0; i < n; ++i) add(bias, Y + i * cols, cols);
}

}  // namespace ops
}  // namespace gemma3
