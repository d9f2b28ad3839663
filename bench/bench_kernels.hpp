// bench/bench_kernels.hpp — `gemma3-bench kernels`: measures the machine's
// limits (read bandwidth, f32 FMA peak) and then the weight-matrix kernels at
// the real Gemma 3 4B shapes against them. See docs/kernels.md.
//
// The including .cpp must define GEMMA3_OPS_EXTRA_INL as
// "bench/bench_kernels-inl.hpp" before including any gemma3 header, so the
// probes are compiled for every Highway target along with the kernels.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <hwy/aligned_allocator.h>

#include "gemma3/error.hpp"
#include "gemma3/ops/matmul.hpp"
#include "gemma3/tensor.hpp"

namespace gemma3 {
namespace bench {

HWY_EXPORT(StreamSum);
HWY_EXPORT(FmaChains);

struct KernelBenchOptions {
  int threads = ops::ThreadContext::max_threads();
  int reps = 5;
  bool quick = false;  // skip the 262208-row shape, smaller buffers
  bool matvec = true, matmul = true;
  std::vector<WeightType> types = {WeightType::F32, WeightType::BF16, WeightType::Q8,
                                   WeightType::Q4};
  size_t n = 512;  // tokens for the matmul
};

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct Timing {
  double median = 0, best = 0;  // seconds
};

// Median and best seconds of `reps` calls of f(rep) after one warm-up call.
// The median is the figure reported; the best run shows what the code does
// when no other process competes for the cores (see the load line).
template <class F>
Timing time_runs(int reps, const F& f) {
  f(-1);
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_seconds();
    f(r);
    t.push_back(now_seconds() - t0);
  }
  Timing out;
  out.median = median(t);
  out.best = *std::min_element(t.begin(), t.end());
  return out;
}

template <class F>
double time_median(int reps, const F& f) {
  return time_runs(reps, f).median;
}

// The 1-minute load average, to show whether other processes competed.
inline double load_average() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: cheap random bits
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline float random_unit(uint64_t i) {  // in [-1, 1)
  return float(int64_t(mix64(i) >> 40) - (int64_t(1) << 23)) / float(1 << 23);
}

// Random bytes of a [rows, cols] matrix of type t, generated in parallel
// (which also places the pages near the threads that will read them).
inline void fill_random_matrix(WeightType t, size_t rows, size_t cols, uint8_t* data, int threads,
                               uint64_t seed) {
  const size_t body = rows * row_bytes(t, cols);
  const size_t total = matrix_bytes(t, rows, cols);
  uint16_t scale_table[256];
  for (int i = 0; i < 256; ++i) scale_table[i] = f32_to_f16(0.001f + 0.00004f * float(i));
  const long long blocks = static_cast<long long>((total + 4095) / 4096);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long long b = 0; b < blocks; ++b) {
    const size_t begin = size_t(b) * 4096, end = std::min(total, begin + 4096);
    for (size_t i = begin; i < end; i += 2) {
      const uint64_t h = mix64(seed ^ (i * 0x1000193ull));
      uint8_t v0, v1;
      if (i >= body) {  // Q8/Q4 padding and f16 scales (2-byte aligned region)
        const uint16_t s = i >= scales_offset(t, rows, cols) ? scale_table[h & 255] : 0;
        v0 = uint8_t(s & 0xff);
        v1 = uint8_t(s >> 8);
      } else if (t == WeightType::F32) {
        float f[1] = {random_unit(seed + i / 4)};
        uint8_t bytes[4];
        std::memcpy(bytes, f, 4);
        v0 = bytes[i % 4];
        v1 = bytes[i % 4 + 1];
      } else if (t == WeightType::BF16) {
        const uint16_t bf = f32_to_bf16(random_unit(h));
        v0 = uint8_t(bf & 0xff);
        v1 = uint8_t(bf >> 8);
      } else if (t == WeightType::Q8) {
        v0 = uint8_t(int8_t(int(h % 255) - 127));
        v1 = uint8_t(int8_t(int((h >> 8) % 255) - 127));
      } else {
        v0 = uint8_t((1 + h % 15) | ((1 + (h >> 8) % 15) << 4));
        v1 = uint8_t((1 + (h >> 16) % 15) | ((1 + (h >> 24) % 15) << 4));
      }
      data[i] = v0;
      if (i + 1 < end) data[i + 1] = v1;
    }
  }
}

struct Limits {
  double bw1 = 0, bwN = 0;        // GB/s
  double flops1 = 0, flopsN = 0;  // GFLOP/s
};

// Sustained read bandwidth: `threads` threads each sum their share of a
// buffer much larger than the last-level cache.
inline double read_bandwidth(const float* buf, size_t n, int threads, int reps) {
  const size_t chunk = n / size_t(threads) / 1024 * 1024;
  volatile float sink = 0;
  auto sum = HWY_DYNAMIC_DISPATCH(StreamSum);
  const double t = time_median(reps, [&](int) {
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
#ifdef _OPENMP
      const size_t tid = size_t(omp_get_thread_num());
#else
      const size_t tid = 0;
#endif
      total += sum(buf + tid * chunk, chunk);
    }
    sink = sink + total;
  });
  return double(chunk * size_t(threads) * sizeof(float)) / t / 1e9;
}

inline double fma_peak(int threads, int reps) {
  auto fma = HWY_DYNAMIC_DISPATCH(FmaChains);
  double flops_per_thread = 0;
  const size_t iters = 20 * 1000 * 1000;
  volatile float sink = 0;
  const double t = time_median(reps, [&](int) {
    float total = 0;
    double f = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total) reduction(max : f)
    {
      double fl = 0;
      total += fma(iters, 1.0f, &fl);
      f = fl;
    }
    flops_per_thread = f;
    sink = sink + total;
  });
  return flops_per_thread * threads / t / 1e9;
}

inline Limits measure_limits(const KernelBenchOptions& o) {
  Limits L;
  const size_t mib = o.quick ? 256 : 1024;
  const size_t n = mib * 1024 * 1024 / sizeof(float);
  {
    auto buf = hwy::AllocateAligned<float>(n);
    if (!buf) throw Error("bench: cannot allocate " + std::to_string(mib) + " MiB");
    const long long blocks = static_cast<long long>(n / 1024);
#pragma omp parallel for num_threads(o.threads) schedule(static)
    for (long long b = 0; b < blocks; ++b) {
      for (size_t i = 0; i < 1024; ++i) buf[size_t(b) * 1024 + i] = 1.0f;
    }
    L.bw1 = read_bandwidth(buf.get(), n, 1, o.reps);
    L.bwN = read_bandwidth(buf.get(), n, o.threads, o.reps);
  }
  L.flops1 = fma_peak(1, o.reps);
  L.flopsN = fma_peak(o.threads, o.reps);
  std::printf("machine limits (median of %d runs)\n", o.reps);
  std::printf("  read bandwidth (%zu MiB buffer)  1 thread %7.1f GB/s     %2d threads %7.1f GB/s\n",
              mib, L.bw1, o.threads, L.bwN);
  std::printf(
      "  f32 FMA peak                     1 thread %7.1f GFLOP/s  %2d threads %7.1f GFLOP/s\n\n",
      L.flops1, o.threads, L.flopsN);
  return L;
}

// Real Gemma 3 4B weight shapes, W = [rows, cols] = [out, in].
struct Shape {
  size_t rows, cols;
  const char* what;
};

inline void bench_matvec(const KernelBenchOptions& o, const Limits& L) {
  std::vector<Shape> shapes = {{10240, 2560, "gate/up_proj"},
                               {2560, 10240, "down_proj"},
                               {2048, 2560, "q_proj"},
                               {262208, 2560, "lm_head"}};
  if (o.quick) shapes.pop_back();
  const ops::ThreadContext ctx(o.threads);
  std::printf(
      "matvec y = W·x, %d threads: weight bytes read per call / median time, vs the\n"
      "%d-thread read bandwidth (%.1f GB/s); copies of W rotate so W comes from DRAM\n",
      o.threads, o.threads, L.bwN);
  std::printf("  %-13s %-15s %-5s %9s %9s %9s %7s %10s %7s\n", "W rows×cols", "(in → out)", "type",
              "MB", "ms", "GB/s", "% bw", "best GB/s", "% bw");
  for (const Shape& s : shapes) {
    for (WeightType t : o.types) {
      const size_t bytes = matrix_bytes(t, s.rows, s.cols);
      const size_t target = (o.quick ? 128u : 256u) << 20;  // ≫ 32 MiB L3
      const size_t copies = std::max<size_t>(1, (target + bytes - 1) / bytes);
      std::vector<hwy::AlignedFreeUniquePtr<uint8_t[]>> mats;
      for (size_t c = 0; c < copies; ++c) {
        mats.push_back(hwy::AllocateAligned<uint8_t>(bytes));
        if (!mats.back())
          throw Error("bench: out of memory for a " + std::to_string(bytes) + "-byte matrix");
        fill_random_matrix(t, s.rows, s.cols, mats.back().get(), o.threads, 1234 + c);
      }
      std::vector<float> x(s.cols), y(s.rows);
      for (size_t i = 0; i < s.cols; ++i) x[i] = random_unit(i);
      size_t next = 0;
      const Timing tm = time_runs(o.reps * 2, [&](int) {
        MatView W{t, s.rows, s.cols, mats[next].get()};
        next = (next + 1) % copies;
        ops::matvec(W, x.data(), y.data(), ctx);
      });
      const double sec = tm.median;
      const double gbs = double(bytes) / sec / 1e9, best = double(bytes) / tm.best / 1e9;
      char dims[32], io[32];
      std::snprintf(dims, sizeof dims, "%zu×%zu", s.rows, s.cols);
      std::snprintf(io, sizeof io, "%zu→%zu", s.cols, s.rows);
      std::printf("  %-14s %-15s %-5s %9.1f %9.3f %9.1f %6.0f%% %10.1f %6.0f%%\n", dims, io,
                  weight_type_name(t), bytes / 1e6, sec * 1e3, gbs, 100.0 * gbs / L.bwN, best,
                  100.0 * best / L.bwN);
    }
  }
  std::printf("\n");
}

inline void bench_matmul(const KernelBenchOptions& o, const Limits& L) {
  const std::vector<Shape> shapes = {
      {10240, 2560, "gate/up_proj"}, {2560, 10240, "down_proj"}, {2048, 2560, "q_proj"}};
  const ops::ThreadContext ctx(o.threads);
  const size_t n = o.n;
  std::printf(
      "matmul Y = X·Wᵀ, n = %zu tokens, %d threads: 2·n·rows·cols / median time, vs the\n"
      "%d-thread f32 FMA peak (%.1f GFLOP/s)\n",
      n, o.threads, o.threads, L.flopsN);
  std::printf("  %-13s %-15s %-5s %9s %9s %7s %12s %7s\n", "W rows×cols", "(in → out)", "type",
              "ms", "GFLOP/s", "% peak", "best GFLOP/s", "% peak");
  for (const Shape& s : shapes) {
    std::vector<float> X(n * s.cols), Y(n * s.rows);
    for (size_t i = 0; i < X.size(); ++i) X[i] = random_unit(7 * i + 1);
    for (WeightType t : o.types) {
      const size_t bytes = matrix_bytes(t, s.rows, s.cols);
      auto mat = hwy::AllocateAligned<uint8_t>(bytes);
      if (!mat) throw Error("bench: out of memory for a " + std::to_string(bytes) + "-byte matrix");
      fill_random_matrix(t, s.rows, s.cols, mat.get(), o.threads, 99);
      const MatView W{t, s.rows, s.cols, mat.get()};
      const Timing tm = time_runs(std::max(1, (o.reps + 1) / 2),
                                  [&](int) { ops::matmul(W, X.data(), n, Y.data(), ctx); });
      const double sec = tm.median;
      const double flop = 2.0 * double(n) * double(s.rows) * double(s.cols);
      const double gf = flop / sec / 1e9, best = flop / tm.best / 1e9;
      char dims[32], io[32];
      std::snprintf(dims, sizeof dims, "%zu×%zu", s.rows, s.cols);
      std::snprintf(io, sizeof io, "%zu→%zu", s.cols, s.rows);
      std::printf("  %-14s %-15s %-5s %9.1f %9.1f %6.0f%% %12.1f %6.0f%%\n", dims, io,
                  weight_type_name(t), sec * 1e3, gf, 100.0 * gf / L.flopsN, best,
                  100.0 * best / L.flopsN);
    }
  }
  std::printf("\n");
}

inline void print_kernels_usage() {
  std::printf(
      "usage: gemma3-bench kernels [--threads N] [--reps R] [--quick] [--types f32,bf16,q8,q4]\n"
      "                            [--only matvec|matmul] [--tokens N]\n"
      "  Measures read bandwidth and f32 FMA peak, then matvec at the Gemma 3 4B\n"
      "  shapes and matmul at n = 512 tokens, for each weight type.\n"
      "  --threads N   threads (default: all, %d)\n"
      "  --reps R      timed repetitions, medians reported (default 5)\n"
      "  --quick       skip the 262208×2560 lm_head shape, smaller buffers\n",
      ops::ThreadContext::max_threads());
}

inline int parse_positive(const std::string& flag, const char* v) {
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || x < 1 || x > 1 << 20) {
    throw Error("kernels: " + flag + " needs a positive integer, got '" + v + "'");
  }
  return int(x);
}

// argv[0] is "kernels".
inline int kernels_main(int argc, char** argv) {
  KernelBenchOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw Error("kernels: " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      print_kernels_usage();
      return 0;
    } else if (a == "--threads") {
      o.threads = parse_positive(a, value());
    } else if (a == "--reps") {
      o.reps = parse_positive(a, value());
    } else if (a == "--tokens") {
      o.n = size_t(parse_positive(a, value()));
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--only") {
      const std::string v = value();
      if (v != "matvec" && v != "matmul")
        throw Error("kernels: --only takes matvec or matmul, got '" + v + "'");
      o.matvec = v == "matvec";
      o.matmul = v == "matmul";
    } else if (a == "--types") {
      o.types.clear();
      std::string list = value();
      size_t pos = 0;
      while (pos <= list.size()) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        const std::string name = list.substr(pos, comma - pos);
        bool found = false;
        for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::Q8, WeightType::Q4}) {
          if (name == weight_type_name(t)) {
            o.types.push_back(t);
            found = true;
          }
        }
        if (!found) throw Error("kernels: unknown weight type '" + name + "' (f32, bf16, q8, q4)");
        pos = comma + 1;
      }
    } else {
      throw Error("kernels: unknown option '" + a + "' (see --help)");
    }
  }
  std::printf("gemma3-bench kernels: Highway target %s, %d threads%s, load average %.2f\n\n",
              ops::active_target_name(), o.threads,
#ifdef _OPENMP
              " (OpenMP)"
#else
              " (no OpenMP: 1 thread runs)"
#endif
              ,
              load_average());
  const Limits L = measure_limits(o);
  if (o.matvec) bench_matvec(o, L);
  if (o.matmul) bench_matmul(o, L);
  std::printf(
      "load average now %.2f (a load above the core count means other processes\n"
      "competed for the cores: medians then include waits for descheduled threads)\n",
      load_average());
  return 0;
}

}  // namespace bench
}  // namespace gemma3
