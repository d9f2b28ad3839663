// bench/bench_vision.hpp — `gemma3-bench vision`: time gemma3::VisionEncoder
// on one image at the real Gemma 3 4B vision shapes (896², 27 layers × 1152,
// 4096 patches), for each weight type, with random weights built in memory.
//
//   gemma3-bench vision [--types f32,bf16,q8,q4] [--threads N] [--layers L] [--reps R]
//
// --layers L builds only L encoder layers (default: all 27) and extrapolates
// the full image from the measured per-layer time (quick runs while
// developing). FLOPs counted as spec §9.3: patch conv + per layer
// (q,k,v,out,fc1,fc2 linear + 2·2·N²·Hv attention) + projector; GFLOP/s is
// that count over the measured (or extrapolated) seconds, and % of peak is
// against the f32 FMA peak measured in the same run (bench_kernels.hpp's
// probe, so the including .cpp must define GEMMA3_OPS_EXTRA_INL as that
// header asks).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"
#include "gemma3/ops/threading.hpp"
#include "gemma3/quant.hpp"
#include "gemma3/tensor.hpp"
#include "gemma3/vision.hpp"
#include "gemma3/weights.hpp"
#include "bench/bench_kernels.hpp"  // fma_peak(): the same probe as `gemma3-bench kernels`

namespace gemma3 {
namespace bench {

namespace vision_detail {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds used by all threads of the process (a shared machine shows
// here: cpu s well below threads × wall s means the cores were busy elsewhere).
inline double cpu_s() { return double(std::clock()) / CLOCKS_PER_SEC; }

// xorshift64*: fast, deterministic random numbers for the weights.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform() {  // in [-1, 1)
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return float(int32_t(uint32_t((s * 0x2545F4914F6CDD1Dull) >> 32))) * (1.0f / 2147483648.0f);
  }
};

// Random weights at a given config, owned here; `weights` points into them.
struct RandomVisionModel {
  ModelConfig cfg;
  Weights weights;
  std::vector<std::unique_ptr<uint8_t[]>> blobs;

  // A [rows, cols] matrix of type t, values uniform in ±1/√cols (so
  // activations keep their scale through the layers).
  MatView matrix(WeightType t, size_t rows, size_t cols, Rng& rng) {
    std::vector<float> f(rows * cols);
    const float a = 1.0f / std::sqrt(float(cols));
    for (float& v : f) v = a * rng.uniform();
    const size_t bytes = matrix_bytes(t, rows, cols);
    blobs.emplace_back(new uint8_t[bytes]);
    quantize_matrix(t, f.data(), rows, cols, blobs.back().get());
    MatView m;
    m.type = t;
    m.rows = rows;
    m.cols = cols;
    m.data = blobs.back().get();
    return m;
  }
  // n f32 values center + spread·uniform.
  const float* vec(size_t n, float center, float spread, Rng& rng) {
    blobs.emplace_back(new uint8_t[n * sizeof(float)]);
    float* p = reinterpret_cast<float*>(blobs.back().get());
    for (size_t i = 0; i < n; ++i) p[i] = center + spread * rng.uniform();
    return p;
  }
};

// Random vision-tower and projector weights at cfg's shapes: every tensor of
// the table (for_each_tensor), matrices in type t; norm weights near 1, the
// position embedding ±0.1, biases and the soft-embedding norm small.
inline std::unique_ptr<RandomVisionModel> make_random_vision_model(const ModelConfig& cfg,
                                                                   WeightType t, uint64_t seed) {
  std::unique_ptr<RandomVisionModel> m(new RandomVisionModel);
  m->cfg = cfg;
  Rng rng(seed);
  auto ends_with = [](const std::string& s, const char* tail) {
    const size_t n = std::strlen(tail);
    return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
  };
  for_each_tensor(
      cfg, &m->weights,
      [&](const TensorSpec& s, TensorSlot slot) {
        if (slot.matrix) {
          *slot.matrix = m->matrix(t, size_t(s.shape[0]), size_t(s.shape[1]), rng);
          return;
        }
        const size_t n = size_t(element_count(s.shape));
        const bool norm_weight = ends_with(s.name, "norm1.weight") ||
                                 ends_with(s.name, "norm2.weight") ||
                                 ends_with(s.name, "post_layernorm.weight");
        if (norm_weight) *slot.vector = m->vec(n, 1.0f, 0.1f, rng);
        else if (ends_with(s.name, "position_embedding.weight"))
          *slot.vector = m->vec(n, 0.0f, 0.1f, rng);
        else if (ends_with(s.name, "mm_soft_emb_norm.weight"))
          *slot.vector = m->vec(n, 0.0f, 0.1f, rng);
        else *slot.vector = m->vec(n, 0.0f, 0.02f, rng);  // biases
      },
      TensorParts::Vision);
  validate_weights(cfg, m->weights, TensorParts::Vision);  // the encoder takes them as given
  return m;
}

// spec §9.3 FLOP counts (multiply-add = 2 FLOPs).
struct VisionFlops {
  double patch = 0, layer_linear = 0, layer_attention = 0, projector = 0;
  double layer() const { return layer_linear + layer_attention; }
  double total(int layers) const { return patch + layers * layer() + projector; }
};

inline VisionFlops vision_flops(const ModelConfig& cfg) {
  const VisionConfig& v = cfg.vision;
  const double Hv = v.hidden_size, I = v.intermediate_size;
  const double N = double(cfg.patches_per_side()) * cfg.patches_per_side();
  VisionFlops f;
  f.patch = 2.0 * N * Hv * v.num_channels * v.patch_size * v.patch_size;
  f.layer_linear = 2.0 * N * (4.0 * Hv * Hv + 2.0 * Hv * I);
  f.layer_attention = 2.0 * 2.0 * N * N * Hv;  // q·kᵀ and p·v over all heads
  f.projector = 2.0 * cfg.mm_tokens_per_image * Hv * cfg.text.hidden_size;
  return f;
}

inline void vision_usage() {
  std::fprintf(stderr,
               "usage: gemma3-bench vision [--types f32,bf16,q8,q4] [--threads N] [--layers L] "
               "[--reps R]\n"
               "  Times the SigLIP encoder + projector on one 896x896 image at the real\n"
               "  Gemma 3 4B vision shapes with random weights, per weight type.\n"
               "  --layers L  build only L of the 27 encoder layers and extrapolate (quick)\n"
               "  --reps R    images per type (default 1); the best time is reported\n");
}

}  // namespace vision_detail

// Returns a process exit code; prints a table on stdout, errors on stderr.
inline int bench_vision(int argc, char** argv) {
  using namespace vision_detail;
  try {
    std::vector<WeightType> types = {WeightType::F32, WeightType::BF16, WeightType::Q8,
                                     WeightType::Q4};
    ops::ThreadContext tc;
    int layers = -1, reps = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw Error("option " + a + " needs a value");
        return argv[++i];
      };
      auto number = [&](int lo) {
        const std::string s = value();
        char* end = nullptr;
        const long n = std::strtol(s.c_str(), &end, 10);
        if (end == s.c_str() || *end != '\0' || n < lo || n > 100000)
          throw Error("option " + a + ": bad value '" + s + "'");
        return int(n);
      };
      if (a == "-h" || a == "--help") {
        vision_usage();
        return 0;
      } else if (a == "--threads" || a == "-t") {
        tc = ops::ThreadContext(number(1));
      } else if (a == "--layers") {
        layers = number(1);
      } else if (a == "--reps") {
        reps = number(1);
      } else if (a == "--types") {
        types.clear();
        std::string s = value();
        size_t pos = 0;
        while (pos <= s.size()) {
          const size_t comma = std::min(s.find(',', pos), s.size());
          const std::string t = s.substr(pos, comma - pos);
          if (t == "f32") types.push_back(WeightType::F32);
          else if (t == "bf16") types.push_back(WeightType::BF16);
          else if (t == "q8") types.push_back(WeightType::Q8);
          else if (t == "q4") types.push_back(WeightType::Q4);
          else throw Error("--types: unknown weight type '" + t + "' (f32, bf16, q8, q4)");
          pos = comma + 1;
        }
      } else {
        vision_usage();
        throw Error("unknown option " + a);
      }
    }

    ModelConfig cfg;  // the defaults are the real Gemma 3 4B shapes
    const int full_layers = cfg.vision.num_hidden_layers;
    if (layers > 0 && layers < full_layers) cfg.vision.num_hidden_layers = layers;
    const VisionFlops fl = vision_flops(cfg);
    const double peak = fma_peak(tc.num_threads, 3);  // median of 3, as gemma3-bench kernels

    std::printf(
        "gemma3-bench vision: %dx%d image, %d patches, %d layers x %d (%d heads), "
        "MLP %d, %d threads, target %s\n",
        cfg.vision.image_size, cfg.vision.image_size,
        cfg.patches_per_side() * cfg.patches_per_side(), full_layers, cfg.vision.hidden_size,
        cfg.vision.num_attention_heads, cfg.vision.intermediate_size, tc.num_threads,
        ops::active_target_name());
    std::printf("FLOPs per image: %.3f TFLOP (layer: linear %.1f + attention %.1f GFLOP)\n",
                fl.total(full_layers) * 1e-12, fl.layer_linear * 1e-9, fl.layer_attention * 1e-9);
    if (peak > 0) std::printf("measured f32 FMA peak: %.1f GFLOP/s\n", peak);
    if (cfg.vision.num_hidden_layers != full_layers)
      std::printf(
          "built %d of %d layers; full-image figures extrapolated from the per-layer "
          "time\n",
          cfg.vision.num_hidden_layers, full_layers);
    std::printf("%-5s %9s %9s %9s %9s %9s %9s %9s %8s\n", "type", "image s", "cpu s", "layer s",
                "linear s", "rest s", "GFLOP/s", "of peak", "build s");

    std::vector<float> pixels(size_t(cfg.vision.num_channels) * cfg.vision.image_size *
                              cfg.vision.image_size);
    Rng prng(7);
    for (float& v : pixels) v = prng.uniform();

    for (WeightType t : types) {
      const double b0 = now_s();
      auto model = make_random_vision_model(cfg, t, 1234);
      VisionEncoder enc(model->cfg, model->weights);
      const double build = now_s() - b0;
      std::vector<float> out(enc.num_tokens() * enc.output_width());

      // The six linear layers of one encoder layer alone (the rest of the
      // layer time is attention, norms, GELU and adds).
      double linear_s = 0;
      {
        const VisionLayerWeights& L = model->weights.vision.layers[0];
        const size_t N = enc.num_patches();
        std::vector<float> X(N * size_t(cfg.vision.intermediate_size), 0.01f);
        std::vector<float> Y(X.size());
        const double l0 = now_s();
        for (const MatView* W : {&L.q_proj, &L.k_proj, &L.v_proj, &L.out_proj, &L.fc1, &L.fc2})
          ops::matmul(*W, X.data(), N, Y.data(), tc, W == &L.fc1 ? L.fc1_bias : L.q_bias);
        linear_s = now_s() - l0;
      }

      // Timestamps from the observer: embeddings done, each layer done, end.
      double best_total = 1e30, best_layer = 0, best_cpu = 0;
      for (int r = 0; r < reps; ++r) {
        std::vector<double> marks;
        const double t0 = now_s(), c0 = cpu_s();
        VisionObserver obs = [&](const std::string& name, int, const float*,
                                 const std::vector<size_t>&) {
          if (name == "vision.embeddings" || name.rfind("vision.layers.", 0) == 0)
            marks.push_back(now_s());
        };
        enc.encode(pixels.data(), out.data(), tc, &obs);
        const double t1 = now_s(), c1 = cpu_s();
        for (float v : out)
          if (!std::isfinite(v)) throw Error("vision benchmark: non-finite output");
        const size_t L = marks.size() - 1;  // layers timed
        const double layer_s = (marks.back() - marks.front()) / double(L);
        const double fixed = (t1 - t0) - (marks.back() - marks.front());
        const double total = fixed + layer_s * full_layers;  // = measured when L is full
        if (total < best_total) {
          best_total = total;
          best_layer = layer_s;
          best_cpu = (c1 - c0) * total / (t1 - t0);  // extrapolated like the time
        }
      }
      const double gflops = fl.total(full_layers) / best_total * 1e-9;
      char pct[32] = "n/a";
      if (peak > 0) std::snprintf(pct, sizeof pct, "%.0f %%", 100.0 * gflops / peak);
      std::printf("%-5s %9.2f %9.2f %9.3f %9.3f %9.3f %9.1f %9s %8.1f\n", weight_type_name(t),
                  best_total, best_cpu, best_layer, linear_s, best_layer - linear_s, gflops, pct,
                  build);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace bench
}  // namespace gemma3
