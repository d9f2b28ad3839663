// bench/bench_model.hpp — `gemma3-bench model`: the end-to-end benchmark at
// the real Gemma 3 4B shapes (docs/performance.md), without the checkpoint.
//
//   gemma3-bench model [--type q4] [--threads 1,2] [--reps 3] [--json] ...
//
// 1. Writes (once; cached) a model file with random weights at the real 4B
//    shapes: the config is tests/data/real-4b/config.json resolved like a
//    real checkpoint's, the tokenizer is the real one (tests/data/tokenizer),
//    every tensor in the table, written with ModelWriter. Matrices are
//    generated directly in their storage type, in parallel (uniform values
//    of standard deviation 1/√cols; Q8/Q4 codes uniform over the whole range
//    with group scales around amax/qmax): the file is what the converter
//    would make of such weights, in seconds.
// 2. For each thread count: read bandwidth (the same probe as `gemma3-bench
//    kernels`), then, through the public Model/Session API, time to first
//    token (model load + prefill + first sample), prefill tokens/s of a
//    --prompt token prompt (one chunk), decode tokens/s over --gen tokens
//    (greedy), one 896×896 image through the vision encoder, and the peak
//    RSS. Every figure is measured --reps times: median and min–max.
//    Decode is also shown as % of the bandwidth ceiling measured in the same
//    run: bytes read per token = the 34 layers' weights + the (tied) LM head
//    from the file's tensor table + the KV cache rows the token attends to.
// 3. The KV cache at 128K context: its exact size and the RSS it adds.
#pragma once

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <hwy/aligned_allocator.h>

#include "bench/bench_kernels.hpp"           // read_bandwidth(), mix64(), load_average()
#include "gemma3/convert/hf_checkpoint.hpp"  // read_tokenizer_model
#include "gemma3/convert/hf_config.hpp"
#include "gemma3/error.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/model.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/model_writer.hpp"
#include "gemma3/session.hpp"
#include "gemma3/vision.hpp"

namespace gemma3 {
namespace bench {
namespace model_detail {

struct Options {
  WeightType type = WeightType::Q4;
  std::string cache_dir, config, preprocessor, tokenizer, chat_template;
  std::vector<int> threads;       // default: 1, 2, …, all cores
  int reps = 3, image_reps = -1;  // -1: as reps
  size_t prompt = 512, gen = 128, context = 4096;
  bool image = true, kv128k = true, json = false, regen = false;
};

// <repo>/tests/data/<rel>, found from this header's path (the benchmark is
// built from the source tree).
inline std::string repo_data(const std::string& rel) {
  std::string f = __FILE__;
  const size_t slash = f.find_last_of('/');
  const std::string dir = slash == std::string::npos ? std::string(".") : f.substr(0, slash);
  return dir + "/../tests/data/" + rel;
}

inline std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/gemma3";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/gemma3";
  return "/tmp/gemma3-cache";
}

// mkdir -p
inline void make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string d = path.substr(0, i);
      if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST)
        throw Error("cannot create directory " + d + ": " + std::strerror(errno));
    }
  }
}

// ---- the random model file -----------------------------------------------------

// Encoded bytes of rows [r0, r0 + n) of a [rows, cols] matrix of type t
// (values only; Q8/Q4 scales come separately), standard deviation 1/√cols.
inline void random_rows(WeightType t, size_t cols, size_t r0, size_t n, uint64_t seed, uint8_t* out,
                        int threads) {
  const size_t rb = row_bytes(t, cols);
  const float a = std::sqrt(3.0f / float(cols));  // uniform(−a, a) has std 1/√cols
  const long long nn = static_cast<long long>(n);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long long i = 0; i < nn; ++i) {
    const size_t r = r0 + size_t(i);
    uint8_t* o = out + size_t(i) * rb;
    const uint64_t rs = mix64(seed ^ (uint64_t(r) * 0x9E3779B97F4A7C15ull));
    switch (t) {
      case WeightType::F32:
        for (size_t c = 0; c < cols; ++c) {
          const float v = a * random_unit(rs + c);
          std::memcpy(o + 4 * c, &v, 4);
        }
        break;
      case WeightType::BF16:
        for (size_t c = 0; c < cols; ++c) {
          const uint16_t v = f32_to_bf16(a * random_unit(rs + c));
          std::memcpy(o + 2 * c, &v, 2);
        }
        break;
      case WeightType::Q8:  // q uniform in [−127, 127]; padding of the last group is 0
        for (size_t c = 0; c < rb; c += 8) {
          const uint64_t h = mix64(rs + c);
          for (size_t k = 0; k < 8; ++k)
            o[c + k] = c + k < cols ? uint8_t(int8_t(int((h >> (8 * k)) & 255) % 255 - 127)) : 0;
        }
        break;
      case WeightType::Q4:  // nibbles q + 8 uniform in [1, 15]; padding stored as 8 (q = 0)
        for (size_t c = 0; c < rb; c += 8) {
          const uint64_t h = mix64(rs + c);
          for (size_t k = 0; k < 8 && c + k < rb; ++k) {
            const size_t g = (c + k) / 16, j = (c + k) % 16;
            const uint8_t lo = g * 32 + j < cols ? uint8_t(1 + ((h >> (8 * k)) & 255) % 15) : 8;
            const uint8_t hi =
                g * 32 + j + 16 < cols ? uint8_t(1 + ((h >> (8 * k + 4)) & 255) % 15) : 8;
            o[c + k] = uint8_t(lo | (hi << 4));
          }
        }
        break;
    }
  }
}

// Writes the model file at path (temp file + rename, by ModelWriter).
inline void write_random_model(const std::string& path, const ModelConfig& cfg, WeightType type,
                               const TokenizerData& tok, const std::string& tmpl, int threads) {
  ModelWriter w(path, cfg, type, tok, tmpl);
  const std::vector<TensorSpec> specs = w.specs();
  std::vector<uint8_t> buf;
  std::vector<float> small;
  for (size_t ti = 0; ti < specs.size(); ++ti) {
    const TensorSpec& s = specs[ti];
    const uint64_t seed = mix64(0x6A3D0000ull + ti);
    if (s.storage == StorageClass::Small) {
      // Gemma RMSNorm weights act as (1 + w): small w; LayerNorm weights
      // (vision) act as w: around 1; biases and position embeddings small.
      const bool layer_norm = s.name.find("layer_norm") != std::string::npos ||
                              s.name.find("post_layernorm") != std::string::npos;
      const bool norm = s.name.find("norm") != std::string::npos;
      small.resize(size_t(element_count(s.shape)));
      for (size_t i = 0; i < small.size(); ++i) {
        const float u = random_unit(seed + i);
        small[i] = layer_norm ? 1.0f + 0.1f * u : (norm ? 0.1f * u : 0.02f * u);
      }
      w.write_f32(small.data(), small.size());
      continue;
    }
    const WeightType t = storage_type(s, type);
    const size_t rows = size_t(s.shape[0]), cols = size_t(s.shape[1]);
    const size_t rb = row_bytes(t, cols);
    const size_t chunk = std::max<size_t>(1, (size_t(32) << 20) / rb);
    buf.resize(chunk * rb);
    for (size_t r = 0; r < rows; r += chunk) {
      const size_t n = std::min(chunk, rows - r);
      random_rows(t, cols, r, n, seed, buf.data(), threads);
      w.write_bytes(buf.data(), n * rb);
    }
    if (is_quantized(t)) {  // zero padding, then one f16 scale per group
      const size_t groups = rows * ((cols + kQuantGroup - 1) / kQuantGroup);
      const size_t pad = scales_offset(t, rows, cols) - rows * rb;
      const float qmax = t == WeightType::Q8 ? 127.0f : 7.0f;
      const float amax = std::sqrt(3.0f / float(cols));
      buf.assign(pad + 2 * groups, 0);
      const long long ng = static_cast<long long>(groups);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (long long g = 0; g < ng; ++g) {
        const float sc = amax * (0.9f + 0.1f * random_unit(seed + 7 + uint64_t(g))) / qmax;
        const uint16_t h = f32_to_f16(sc);
        std::memcpy(buf.data() + pad + 2 * size_t(g), &h, 2);
      }
      w.write_bytes(buf.data(), buf.size());
    }
  }
  w.finish();
}

// ---- measurements --------------------------------------------------------------

struct Stat {
  double median = 0, min = 0, max = 0;
  static Stat of(std::vector<double> v) {
    Stat s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    const size_t m = v.size() / 2;
    s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
    return s;
  }
};

// Peak resident set (VmHWM, bytes) since the last reset_peak_rss().
inline double peak_rss() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) * 1024.0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) * 1024.0;
}
inline double current_rss() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) * 1024.0;
  return 0;
}
// Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM to the current RSS.
inline void reset_peak_rss() {
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

struct Result {
  int threads = 0;
  double bandwidth = 0;  // GB/s, median
  Stat load_s, ttft_s, prefill_tps, decode_tps, image_s;
  // The same rates from process CPU time (÷ threads): what the run would
  // reach if its threads were never descheduled (a busy machine).
  Stat prefill_cpu_tps, decode_cpu_tps;
  double bytes_per_token = 0;  // weights + KV, average over the decoded tokens
  double peak_rss = 0, kv_bytes = 0;
  double cpu_s = 0, wall_s = 0;  // process CPU / wall seconds of the timed part
};

inline int argmax(const std::vector<float>& v, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n && i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return int(best);
}

inline double process_cpu_s() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Bytes one decode step at position pos reads: weights of every decoder layer
// and the LM head (embed_tokens), and the K and V rows it attends to.
inline double decode_bytes(const ModelFile& f, size_t pos) {
  double w = 0;
  for (const TensorEntry& t : f.tensors())
    if (t.name.rfind("language_model.layers.", 0) == 0 ||
        t.name == "language_model.embed_tokens.weight")
      w += double(t.size);
  const TextConfig& c = f.config().text;
  const double row = double(c.num_key_value_heads) * double(c.head_dim) * 2.0;  // bf16
  double kv = 0;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const size_t seen =
        c.layer_is_global[size_t(l)] ? pos + 1 : std::min(pos + 1, size_t(c.sliding_window));
    kv += 2.0 * row * double(seen);
  }
  return w + kv;
}

// Sustained read bandwidth with `threads` threads (1 GiB buffer, freed
// again so that it is not part of the peak RSS measured next).
inline double measure_bandwidth(int threads, int reps) {
  const size_t n = size_t(1) << 28;  // 1 GiB of floats (L3 is 32 MiB)
  auto buf = hwy::AllocateAligned<float>(n);
  if (!buf) throw Error("bench: cannot allocate the 1 GiB bandwidth buffer");
  const long long blocks = static_cast<long long>(n / 4096);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long long b = 0; b < blocks; ++b)
    for (size_t i = 0; i < 4096; ++i) buf[size_t(b) * 4096 + i] = 1.0f;
  return read_bandwidth(buf.get(), n, threads, reps);
}

inline Result run_threads(const std::string& path, const Options& o, int threads) {
  Result res;
  res.threads = threads;
  // The read bandwidth is probed before the runs and again right before each
  // decode: on a shared host it drifts within minutes (40–72 GB/s with 2
  // threads on the development VM), and the ceiling should be the bandwidth
  // of the moment. The probe's 1 GiB buffer is not part of the peak RSS:
  // the peak is taken before each probe and the high-water mark reset after.
  std::vector<double> bws;
  double peak = 0;
  auto probe = [&] {
    peak = std::max(peak, peak_rss());
    bws.push_back(measure_bandwidth(threads, 3));
    reset_peak_rss();
  };
  probe();
  std::vector<double> load, ttft, pre, dec, img, pre_cpu, dec_cpu;
  const double c0 = process_cpu_s(), w0 = now_seconds();
  SessionOptions so;
  so.context = o.context;
  so.threads = threads;
  so.prefill_chunk = o.prompt;  // one chunk, as llama.cpp's pp512 (batch 512)
  so.sampling.greedy = true;    // (the benchmark takes the argmax itself)
  std::vector<int> prompt(o.prompt);
  for (int rep = 0; rep < o.reps; ++rep) {
    // Time to first token: open the file (warm page cache), prefill, sample.
    const double t0 = now_seconds();
    Model model(path);
    const double t1 = now_seconds();
    {
      Session s(model, so);
      const int V = int(model.sample_vocab());
      prompt[0] = model.config().tokens.bos;
      for (size_t i = 1; i < prompt.size(); ++i)
        prompt[i] = 1000 + int(mix64(uint64_t(rep) * 7919 + i) % uint64_t(V - 2000));
      const double t2 = now_seconds(), p0 = process_cpu_s();
      const std::vector<float>& logits = s.prefill(prompt);
      int tok = argmax(logits, size_t(V));
      const double t3 = now_seconds(), p1 = process_cpu_s();
      pre_cpu.push_back(double(o.prompt) * threads / (p1 - p0));
      load.push_back(t1 - t0);
      ttft.push_back(t3 - t0);
      pre.push_back(double(o.prompt) / (t3 - t2));
      probe();
      const double d0 = now_seconds(), q0 = process_cpu_s();
      for (size_t i = 0; i < o.gen; ++i) tok = argmax(s.prefill({tok}), size_t(V));
      dec.push_back(double(o.gen) / (now_seconds() - d0));
      dec_cpu.push_back(double(o.gen) * threads / (process_cpu_s() - q0));
      res.kv_bytes = double(s.cache().bytes());
      if (rep == 0) {
        double b = 0;
        for (size_t i = 0; i < o.gen; ++i) b += decode_bytes(model.file(), o.prompt + i);
        res.bytes_per_token = b / double(o.gen);
      }
    }  // the text session ends
    const int ireps = o.image_reps < 0 ? o.reps : o.image_reps;
    if (o.image && rep < ireps && model.config().has_vision) {
      // An image turn as a user runs it (same context length): one random
      // S×S image and a line of text, through Session::chat, one token
      // generated; the figure is the vision tower's time (encode_seconds),
      // and the peak RSS includes this turn.
      Session s(model, so);
      Image im;
      im.width = im.height = model.config().vision.image_size;
      im.rgb.resize(size_t(im.width) * size_t(im.height) * 3);
      for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = uint8_t(mix64(i + 99) >> 56);
      s.chat(
          {ChatPart::make_image_pixels(std::move(im)), ChatPart::make_text("Describe this image.")},
          {}, 1);
      img.push_back(s.timings().image_encode_seconds);
    }
  }
  res.cpu_s = process_cpu_s() - c0;
  res.wall_s = now_seconds() - w0;
  res.peak_rss = std::max(peak, peak_rss());
  res.bandwidth = Stat::of(bws).median;
  res.load_s = Stat::of(load);
  res.ttft_s = Stat::of(ttft);
  res.prefill_tps = Stat::of(pre);
  res.decode_tps = Stat::of(dec);
  res.image_s = Stat::of(img);
  res.prefill_cpu_tps = Stat::of(pre_cpu);
  res.decode_cpu_tps = Stat::of(dec_cpu);
  return res;
}

inline std::string fmt_stat(const Stat& s, const char* f) {
  char a[96];
  std::string spec = std::string(f) + " (" + f + "–" + f + ")";
  std::snprintf(a, sizeof a, spec.c_str(), s.median, s.min, s.max);
  return a;
}

inline std::string json_stat(const Stat& s) {
  char a[128];
  std::snprintf(a, sizeof a, "{\"median\": %.6g, \"min\": %.6g, \"max\": %.6g}", s.median, s.min,
                s.max);
  return a;
}

inline void model_usage() {
  std::fprintf(
      stderr,
      "usage: gemma3-bench model [--type f32|bf16|q8|q4] [--threads 1,2] [--reps N]\n"
      "                          [--image-reps N] [--no-image] [--prompt N] [--gen N]\n"
      "                          [--context N] [--no-kv128k] [--cache-dir DIR] [--regen] [--json]\n"
      "                          [--config FILE] [--tokenizer FILE]\n"
      "       gemma3-bench model --compare REF.g3 OTHER.g3... [--tokens N] [--threads N] [--json]\n"
      "  (quantization quality: logits of each file vs REF, decode and prefill paths)\n"
      "  Writes (once, cached in --cache-dir, default $XDG_CACHE_HOME/gemma3 or\n"
      "  ~/.cache/gemma3) a model file with random weights at the real Gemma 3 4B\n"
      "  shapes, then measures per thread count (default 1, 2, ..., all cores):\n"
      "  TTFT, prefill tok/s (--prompt tokens, default 512), decode tok/s (--gen,\n"
      "  default 128), one 896x896 image encode, peak RSS; median (min-max) of\n"
      "  --reps runs (default 3); decode as %% of the read bandwidth measured here.\n");
}

inline std::vector<int> parse_list(const std::string& flag, const std::string& v) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    const size_t comma = std::min(v.find(',', pos), v.size());
    out.push_back(parse_positive(flag, v.substr(pos, comma - pos).c_str()));
    pos = comma + 1;
  }
  return out;
}

// ---- quantization quality: logits of model files against the first --------------

struct Diff {
  double max_abs = 0, max_ref = 0;
  size_t agree = 0, rows = 0;
  void add(const float* a, const float* ref, size_t n) {
    size_t ia = 0, ir = 0;
    for (size_t i = 0; i < n; ++i) {
      max_abs = std::max(max_abs, double(std::fabs(a[i] - ref[i])));
      max_ref = std::max(max_ref, double(std::fabs(ref[i])));
      if (a[i] > a[ia]) ia = i;
      if (ref[i] > ref[ir]) ir = i;
    }
    agree += ia == ir;
    rows += 1;
  }
};

// Feeds the same `tokens` random ids to every file, token by token (the
// decode path: matvec) and as one chunk with all logits (prefill: matmul),
// and compares each file's logits with the first file's.
inline int compare_main(const std::vector<std::string>& paths, size_t tokens, int threads,
                        bool json) {
  if (paths.size() < 2) throw Error("--compare needs at least two model files");
  std::vector<std::vector<float>> ref_dec, ref_pre;
  std::vector<int> ids;
  if (json)
    std::printf("{\"reference\": \"%s\", \"tokens\": %zu, \"files\": [\n", paths[0].c_str(),
                tokens);
  else
    std::printf("logits against %s, %zu tokens (max |diff|, max |ref|, top-1 agreement)\n",
                paths[0].c_str(), tokens);
  for (size_t f = 0; f < paths.size(); ++f) {
    Model model(paths[f]);
    const size_t V = model.decoder().vocab_rows();
    const size_t nv = model.sample_vocab();
    if (f == 0) {
      ids.push_back(model.config().tokens.bos);
      for (size_t i = 1; i < tokens; ++i) ids.push_back(int(10 + mix64(i) % uint64_t(nv - 20)));
    }
    SessionOptions so;
    so.context = tokens + 1;
    so.threads = threads;
    std::vector<std::vector<float>> dec, pre;
    {  // decode path: one token per forward
      Session s(model, so);
      for (int id : ids) dec.push_back(s.prefill({id}));
    }
    {  // prefill path: every position's logits from one chunk
      KVCache cache(model.config().text, tokens, KVType::BF16);
      ForwardBuffers b;
      std::vector<float> all(tokens * V);
      model.decoder().forward(cache, ids.data(), tokens, {}, all.data(), true, b,
                              ops::ThreadContext(threads));
      for (size_t i = 0; i < tokens; ++i)
        pre.emplace_back(all.begin() + std::ptrdiff_t(i * V),
                         all.begin() + std::ptrdiff_t((i + 1) * V));
    }
    if (f == 0) {
      ref_dec = dec;
      ref_pre = pre;
      continue;
    }
    Diff dd, dp;
    for (size_t i = 0; i < tokens; ++i) {
      dd.add(dec[i].data(), ref_dec[i].data(), nv);
      dp.add(pre[i].data(), ref_pre[i].data(), nv);
    }
    if (json)
      std::printf(
          "  {\"file\": \"%s\", \"decode\": {\"max_abs_diff\": %.6g, \"max_abs_ref\": %.6g, "
          "\"top1_agreement\": %.4f}, \"prefill\": {\"max_abs_diff\": %.6g, \"max_abs_ref\": %.6g, "
          "\"top1_agreement\": %.4f}}%s\n",
          paths[f].c_str(), dd.max_abs, dd.max_ref, double(dd.agree) / dd.rows, dp.max_abs,
          dp.max_ref, double(dp.agree) / dp.rows, f + 1 < paths.size() ? "," : "");
    else
      std::printf(
          "  %s\n    decode (matvec): %.4g, %.4g, %.3f    prefill (matmul): %.4g, %.4g, %.3f\n",
          paths[f].c_str(), dd.max_abs, dd.max_ref, double(dd.agree) / dd.rows, dp.max_abs,
          dp.max_ref, double(dp.agree) / dp.rows);
  }
  if (json) std::printf("]}\n");
  return 0;
}

}  // namespace model_detail

// Returns a process exit code; prints the table (or JSON) on stdout.
inline int model_main(int argc, char** argv) {
  using namespace model_detail;
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      model_usage();
      return 0;
    } else if (a == "--type") {
      const std::string t = value();
      if (t == "f32") o.type = WeightType::F32;
      else if (t == "bf16") o.type = WeightType::BF16;
      else if (t == "q8") o.type = WeightType::Q8;
      else if (t == "q4") o.type = WeightType::Q4;
      else throw Error("--type: unknown weight type '" + t + "' (f32, bf16, q8, q4)");
    } else if (a == "--threads") {
      o.threads = parse_list(a, value());
    } else if (a == "--reps") {
      o.reps = parse_positive(a, value().c_str());
    } else if (a == "--image-reps") {
      o.image_reps = std::atoi(value().c_str());
    } else if (a == "--no-image") {
      o.image = false;
    } else if (a == "--no-kv128k") {
      o.kv128k = false;
    } else if (a == "--prompt") {
      o.prompt = size_t(parse_positive(a, value().c_str()));
    } else if (a == "--gen") {
      o.gen = size_t(parse_positive(a, value().c_str()));
    } else if (a == "--context") {
      o.context = size_t(parse_positive(a, value().c_str()));
    } else if (a == "--cache-dir") {
      o.cache_dir = value();
    } else if (a == "--regen") {
      o.regen = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--config") {
      o.config = value();
    } else if (a == "--tokenizer") {
      o.tokenizer = value();
    } else if (a == "--compare") {
      std::vector<std::string> files;
      while (i + 1 < argc && argv[i + 1][0] != '-') files.push_back(argv[++i]);
      size_t tokens = 32;
      int threads = ops::ThreadContext::max_threads();
      for (++i; i < argc; ++i) {
        const std::string b = argv[i];
        if (b == "--tokens" && i + 1 < argc) tokens = size_t(parse_positive(b, argv[++i]));
        else if (b == "--threads" && i + 1 < argc) threads = parse_positive(b, argv[++i]);
        else if (b == "--json") o.json = true;
        else throw Error("--compare: unknown option " + b);
      }
      return compare_main(files, tokens, threads, o.json);
    } else {
      model_usage();
      throw Error("unknown option " + a);
    }
  }
  if (o.threads.empty()) {
    for (int t = 1; t <= ops::ThreadContext::max_threads(); ++t) o.threads.push_back(t);
    if (o.threads.size() > 2) o.threads = {1, 2, ops::ThreadContext::max_threads()};
  }
  if (o.context < o.prompt + o.gen + 1) o.context = o.prompt + o.gen + 1;
  if (o.cache_dir.empty()) o.cache_dir = default_cache_dir();
  if (o.config.empty()) o.config = repo_data("real-4b/config.json");
  if (o.preprocessor.empty()) o.preprocessor = repo_data("real-4b/preprocessor_config.json");
  if (o.tokenizer.empty()) o.tokenizer = repo_data("tokenizer/tokenizer.model");
  if (o.chat_template.empty()) o.chat_template = repo_data("tokenizer/chat_template.jinja");
  FILE* info = o.json ? stderr : stdout;  // progress lines; stdout carries the JSON

  // ---- the model file ----
  const std::string path =
      o.cache_dir + "/gemma3-4b-random-" + weight_type_name(o.type) + ".gemma3";
  double gen_s = -1;
  bool cached = !o.regen && convert::file_exists(path);
  if (cached) {
    try {
      ModelFile::open(path);  // a truncated or stale file is rewritten
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cached %s unusable (%s); writing it again\n", path.c_str(), e.what());
      cached = false;
    }
  }
  if (!cached) {
    if (!convert::file_exists(o.config))
      throw Error(o.config + ": not found (give --config <config.json>)");
    if (!convert::file_exists(o.tokenizer))
      throw Error(o.tokenizer + ": not found (give --tokenizer <tokenizer.model>)");
    ModelConfig cfg = convert::resolve_hf_config(convert::read_file_bytes(o.config), o.config);
    if (convert::file_exists(o.preprocessor))
      convert::resolve_hf_preprocessor(convert::read_file_bytes(o.preprocessor), o.preprocessor,
                                       cfg);
    const TokenizerData tok = convert::read_tokenizer_model(o.tokenizer);
    const std::string tmpl = convert::file_exists(o.chat_template)
                                 ? convert::read_file_bytes(o.chat_template)
                                 : std::string();
    make_dirs(o.cache_dir);
    std::fprintf(info, "writing %s (random weights, real 4B shapes, %s)...\n", path.c_str(),
                 weight_type_name(o.type));
    std::fflush(info);
    const double g0 = now_seconds();
    write_random_model(path, cfg, o.type, tok, tmpl, ops::ThreadContext::max_threads());
    gen_s = now_seconds() - g0;
    std::fprintf(info, "wrote it in %.1f s\n", gen_s);
  }
  const ModelFile file = ModelFile::open(path);
  const double file_bytes = double(file.file_size());
  // Warm the page cache (the TTFT target assumes it): read the file once.
  {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> b(size_t(8) << 20);
    while (in.read(b.data(), std::streamsize(b.size())) || in.gcount() > 0) {
    }
  }

  // ---- measurements ----
  const double load0 = load_average();
  std::vector<Result> results;
  for (int t : o.threads) {
    std::fprintf(info, "measuring %d thread%s...\n", t, t == 1 ? "" : "s");
    std::fflush(info);
    results.push_back(run_threads(path, o, t));
  }
  // The KV cache at 128K context (bf16, the session default): size, the
  // resident memory it adds when allocated (its pages are touched only when
  // written) and once every position has been written.
  double kv128_bytes = 0, kv128_rss = 0, kv128_rss_full = 0;
  const size_t ctx128 = 131072;
  if (o.kv128k && size_t(file.config().text.max_position_embeddings) >= ctx128) {
    const TextConfig& tc = file.config().text;
    const double r0 = current_rss();
    KVCache kv(tc, ctx128, KVType::BF16);
    kv128_rss = current_rss() - r0;
    kv128_bytes = double(kv.bytes());
    std::vector<float> row(kv.row_size(), 0.5f);
    for (size_t l = 0; l < size_t(tc.num_hidden_layers); ++l)
      for (size_t pos = 0; pos < kv.slots(l); ++pos) kv.store(l, pos, row.data(), row.data());
    kv128_rss_full = current_rss() - r0;
  }
  const double load1 = load_average();

  if (o.json) {
    std::printf("{\n  \"model\": \"%s\", \"type\": \"%s\", \"file_bytes\": %.0f,\n", path.c_str(),
                weight_type_name(o.type), file_bytes);
    std::printf("  \"generate_seconds\": %.3f, \"target\": \"%s\",\n", gen_s,
                ops::active_target_name());
    std::printf(
        "  \"prompt_tokens\": %zu, \"decode_tokens\": %zu, \"context\": %zu, \"reps\": %d,\n",
        o.prompt, o.gen, o.context, o.reps);
    std::printf("  \"load_average\": [%.2f, %.2f],\n", load0, load1);
    std::printf(
        "  \"kv_cache_128k\": {\"bytes\": %.0f, \"rss_allocated\": %.0f, \"rss_written\": %.0f},\n"
        "  \"runs\": [\n",
        kv128_bytes, kv128_rss, kv128_rss_full);
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      const double ceiling = r.bandwidth * 1e9 / r.bytes_per_token;
      std::printf(
          "    {\"threads\": %d, \"read_bandwidth_gbs\": %.2f, \"bytes_per_token\": %.0f, "
          "\"decode_ceiling_tps\": %.3f,\n",
          r.threads, r.bandwidth, r.bytes_per_token, ceiling);
      std::printf("     \"load_s\": %s,\n     \"ttft_s\": %s,\n", json_stat(r.load_s).c_str(),
                  json_stat(r.ttft_s).c_str());
      std::printf("     \"prefill_tps\": %s,\n     \"decode_tps\": %s,\n",
                  json_stat(r.prefill_tps).c_str(), json_stat(r.decode_tps).c_str());
      std::printf("     \"decode_pct_of_ceiling\": %.1f,\n", 100.0 * r.decode_tps.median / ceiling);
      std::printf("     \"prefill_tps_by_cpu_time\": %s,\n     \"decode_tps_by_cpu_time\": %s,\n",
                  json_stat(r.prefill_cpu_tps).c_str(), json_stat(r.decode_cpu_tps).c_str());
      std::printf("     \"image_s\": %s,\n",
                  r.image_s.median > 0 ? json_stat(r.image_s).c_str() : "null");
      std::printf(
          "     \"peak_rss_bytes\": %.0f, \"kv_cache_bytes\": %.0f, \"cpu_s\": %.2f, "
          "\"wall_s\": %.2f}%s\n",
          r.peak_rss, r.kv_bytes, r.cpu_s, r.wall_s, i + 1 < results.size() ? "," : "");
    }
    std::printf("  ]\n}\n");
    return 0;
  }
  std::printf("\ngemma3-bench model: %s, random weights at the real 4B shapes, target %s\n",
              path.c_str(), ops::active_target_name());
  std::printf(
      "file %.2f GB (%s)%s; prompt %zu tokens, decode %zu tokens, context %zu (bf16 KV), "
      "median (min–max) of %d runs\n",
      file_bytes * 1e-9, weight_type_name(o.type), gen_s >= 0 ? "" : ", cached", o.prompt, o.gen,
      o.context, o.reps);
  std::printf("%-4s %8s %10s %8s %18s %18s %18s %9s %18s %8s\n", "thr", "bw GB/s", "ceil tok/s",
              "load s", "TTFT s", "prefill tok/s", "decode tok/s", "% ceil", "image s", "RSS GB");
  for (const Result& r : results) {
    const double ceiling = r.bandwidth * 1e9 / r.bytes_per_token;
    std::printf("%-4d %8.1f %10.2f %8.3f %18s %18s %18s %8.0f%% %18s %8.2f\n", r.threads,
                r.bandwidth, ceiling, r.load_s.median, fmt_stat(r.ttft_s, "%.2f").c_str(),
                fmt_stat(r.prefill_tps, "%.1f").c_str(), fmt_stat(r.decode_tps, "%.2f").c_str(),
                100.0 * r.decode_tps.median / ceiling,
                r.image_s.median > 0 ? fmt_stat(r.image_s, "%.1f").c_str() : "-",
                r.peak_rss * 1e-9);
  }
  std::printf(
      "bytes read per decoded token (weights + KV, mean): %.3f GB; KV cache at context "
      "%zu: %.3f GB\n",
      results.empty() ? 0.0 : results[0].bytes_per_token * 1e-9, o.context,
      results.empty() ? 0.0 : results[0].kv_bytes * 1e-9);
  std::printf("by process CPU time (÷ threads; as if never descheduled):\n");
  for (const Result& r : results)
    std::printf("  %d thread%s: prefill %s tok/s, decode %s tok/s (%.0f%% of the ceiling)\n",
                r.threads, r.threads == 1 ? "" : "s", fmt_stat(r.prefill_cpu_tps, "%.1f").c_str(),
                fmt_stat(r.decode_cpu_tps, "%.2f").c_str(),
                100.0 * r.decode_cpu_tps.median / (r.bandwidth * 1e9 / r.bytes_per_token));
  for (const Result& r : results)
    std::printf(
        "  %d thread%s: process CPU %.1f s over %.1f s wall (%.0f%% of %d cores' time); "
        "peak RSS %.2f GB = file %.2f + KV %.2f + %.2f GB other\n",
        r.threads, r.threads == 1 ? "" : "s", r.cpu_s, r.wall_s,
        100.0 * r.cpu_s / (r.wall_s * r.threads), r.threads, r.peak_rss * 1e-9, file_bytes * 1e-9,
        r.kv_bytes * 1e-9, (r.peak_rss - file_bytes - r.kv_bytes) * 1e-9);
  if (kv128_bytes > 0)
    std::printf(
        "KV cache at 131072 context (bf16): %.3f GB exact; RSS added when allocated "
        "%.3f GB, once every position is written %.3f GB\n",
        kv128_bytes * 1e-9, kv128_rss * 1e-9, kv128_rss_full * 1e-9);
  std::printf(
      "load average %.2f before, %.2f after (above the core count: other processes "
      "competed for the cores)\n",
      load0, load1);
  return 0;
}

}  // namespace bench
}  // namespace gemma3
