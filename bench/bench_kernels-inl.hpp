// bench/bench_kernels-inl.hpp — per-target probes of the machine's limits
// for `gemma3-bench kernels`: a streaming sum (read bandwidth) and
// register-resident FMA chains (arithmetic peak). Compiled for every Highway
// target through GEMMA3_OPS_EXTRA_INL (see gemma3/ops/dispatch.hpp).
#if defined(GEMMA3_BENCH_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GEMMA3_BENCH_KERNELS_INL_H_
#undef GEMMA3_BENCH_KERNELS_INL_H_
#else
#define GEMMA3_BENCH_KERNELS_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace gemma3 {
namespace bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Σ p[i] with eight independent vector accumulators: the loop is limited by
// how fast memory delivers p (n a multiple of 8 vectors, p 64-byte aligned).
// It prefetches 4 KiB ahead, as the matvec kernels do: without it this VM
// delivers ~20% less than those kernels read, and the probe would understate
// the machine's limit.
inline float StreamSum(const float* HWY_RESTRICT p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  auto s4 = hn::Zero(d), s5 = hn::Zero(d), s6 = hn::Zero(d), s7 = hn::Zero(d);
  for (size_t i = 0; i + 8 * N <= n; i += 8 * N) {
    for (size_t b = 0; b < 8 * N * sizeof(float); b += 64)
      hwy::Prefetch(reinterpret_cast<const char*>(p + i) + 4096 + b);
    s0 = hn::Add(s0, hn::Load(d, p + i));
    s1 = hn::Add(s1, hn::Load(d, p + i + N));
    s2 = hn::Add(s2, hn::Load(d, p + i + 2 * N));
    s3 = hn::Add(s3, hn::Load(d, p + i + 3 * N));
    s4 = hn::Add(s4, hn::Load(d, p + i + 4 * N));
    s5 = hn::Add(s5, hn::Load(d, p + i + 5 * N));
    s6 = hn::Add(s6, hn::Load(d, p + i + 6 * N));
    s7 = hn::Add(s7, hn::Load(d, p + i + 7 * N));
  }
  const auto s =
      hn::Add(hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)), hn::Add(hn::Add(s4, s5), hn::Add(s6, s7)));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

// 12 independent FMA chains (enough to cover FMA latency × throughput on
// current x86 and Arm cores), `iters` steps each; nothing touches memory.
// Returns the FLOPs done through *flops and a value that depends on all
// chains (so the compiler keeps them).
inline float FmaChains(size_t iters, float seed, double* flops) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f), a = hn::Set(d, 1e-7f);
  auto c0 = hn::Set(d, seed), c1 = hn::Add(c0, a), c2 = hn::Add(c1, a), c3 = hn::Add(c2, a);
  auto c4 = hn::Add(c3, a), c5 = hn::Add(c4, a), c6 = hn::Add(c5, a), c7 = hn::Add(c6, a);
  auto c8 = hn::Add(c7, a), c9 = hn::Add(c8, a), c10 = hn::Add(c9, a), c11 = hn::Add(c10, a);
  for (size_t i = 0; i < iters; ++i) {
    c0 = hn::MulAdd(c0, m, a);
    c1 = hn::MulAdd(c1, m, a);
    c2 = hn::MulAdd(c2, m, a);
    c3 = hn::MulAdd(c3, m, a);
    c4 = hn::MulAdd(c4, m, a);
    c5 = hn::MulAdd(c5, m, a);
    c6 = hn::MulAdd(c6, m, a);
    c7 = hn::MulAdd(c7, m, a);
    c8 = hn::MulAdd(c8, m, a);
    c9 = hn::MulAdd(c9, m, a);
    c10 = hn::MulAdd(c10, m, a);
    c11 = hn::MulAdd(c11, m, a);
  }
  *flops = double(iters) * 12 * 2 * double(hn::Lanes(d));
  const auto s = hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)),
                         hn::Add(hn::Add(hn::Add(c4, c5), hn::Add(c6, c7)),
                                 hn::Add(hn::Add(c8, c9), hn::Add(c10, c11))));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace bench
}  // namespace gemma3
HWY_AFTER_NAMESPACE();

#endif  // GEMMA3_BENCH_KERNELS_INL_H_
