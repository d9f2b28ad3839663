// gemma3/sampler.hpp — choosing the next token from the logits (spec §3.8, §1.5).
//
// Order of operations follows Hugging Face generate():
//   repetition penalty → temperature → top-k → top-p → min-p → draw.
// Defaults are the release's generation_config.json: do_sample, temperature 1
// (not written, HF default), top_k 64, top_p 0.95 (spec §3.8).
//
// Never sampled (spec §1.5): ids ≥ the tokenizer vocabulary (the 64 extra
// embedding rows of the 4B have no trained meaning) and the image markers
// <start_of_image>, <end_of_image>, <image_soft_token>. The reference greedy
// loop of gemma3-dump does NOT use this class: it is a plain argmax over all
// logits.
//
// Cost: one pass over the logits; top-k keeps a k-element heap during that
// pass; with top-k off, top-p sorts only as large a prefix as it needs.
// Reproducible: std::mt19937_64 (its output sequence is fixed by the C++
// standard) and our own uniform → token mapping, so a seed gives the same
// tokens with any standard library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"

namespace gemma3 {

struct SamplingOptions {
  bool greedy = false;           // argmax over the allowed ids; ignores everything below
  float temperature = 1.0f;      // ≤ 0 also means greedy
  int top_k = 64;                // keep the k most likely ids; 0 = off
  float top_p = 0.95f;           // keep the smallest set with mass ≥ top_p; 1 = off
  float min_p = 0.0f;            // drop ids with p < min_p · p_max; 0 = off
  float repeat_penalty = 1.0f;   // CTRL-style: logit > 0 ? logit / r : logit · r; 1 = off
  int repeat_last_n = 64;        // how many recent tokens are penalised; -1 = all given
  std::optional<uint64_t> seed;  // unset: a random seed (std::random_device)
};

// Ids a model must never sample besides ids ≥ vocabulary (spec §1.5).
inline std::vector<int> never_sample_ids(const ModelConfig& c) {
  return {c.tokens.boi, c.tokens.eoi, c.tokens.image};
}

class Sampler {
 public:
  // vocab: tokenizer vocabulary size (pieces); ids ≥ vocab are never sampled.
  // excluded: further ids never sampled (ids outside [0, vocab) are ignored).
  Sampler(const SamplingOptions& opt, size_t vocab, const std::vector<int>& excluded = {})
      : opt_(opt), flags_(vocab, 0) {
    if (vocab == 0) throw Error("sampler: vocabulary size is 0");
    if (!(opt.top_p > 0.0f && opt.top_p <= 1.0f))
      throw Error("sampler: top_p must be in (0, 1], got " + std::to_string(opt.top_p));
    if (!(opt.min_p >= 0.0f && opt.min_p <= 1.0f))
      throw Error("sampler: min_p must be in [0, 1], got " + std::to_string(opt.min_p));
    if (opt.top_k < 0) throw Error("sampler: top_k must be ≥ 0, got " + std::to_string(opt.top_k));
    if (!(opt.repeat_penalty > 0.0f))
      throw Error("sampler: repeat penalty must be > 0, got " + std::to_string(opt.repeat_penalty));
    if (std::isnan(opt.temperature)) throw Error("sampler: temperature is NaN");
    for (int id : excluded)
      if (id >= 0 && size_t(id) < vocab) flags_[size_t(id)] = kExcluded;
    reseed(opt.seed ? *opt.seed
                    : (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}());
  }

  void reseed(uint64_t seed) { rng_.seed(seed); }
  const SamplingOptions& options() const { return opt_; }
  size_t vocab() const { return flags_.size(); }

  // Picks a token from n logits. history: previous tokens (for the repetition
  // penalty; only the last repeat_last_n are used).
  int sample(const float* logits, size_t n, const std::vector<int>& history = {}) {
    const size_t limit = std::min(n, flags_.size());
    const bool penalise = opt_.repeat_penalty != 1.0f && !history.empty();
    size_t h0 = 0;
    if (penalise && opt_.repeat_last_n >= 0 && history.size() > size_t(opt_.repeat_last_n))
      h0 = history.size() - size_t(opt_.repeat_last_n);
    if (penalise) mark(history, h0, kPenalised);

    const bool greedy = opt_.greedy || opt_.temperature <= 0.0f;
    const size_t k = opt_.top_k > 0 ? size_t(opt_.top_k) : 0;
    cand_.clear();
    Cand best{-INFINITY, -1};
    for (size_t i = 0; i < limit; ++i) {
      const uint8_t f = flags_[i];
      if (f & kExcluded) continue;
      float v = logits[i];
      if (std::isnan(v)) continue;
      if (f & kPenalised) v = v > 0.0f ? v / opt_.repeat_penalty : v * opt_.repeat_penalty;
      const Cand c{v, int(i)};
      if (best.id < 0 || better(c, best)) best = c;
      if (greedy) continue;
      if (k == 0) {
        cand_.push_back(c);
      } else if (cand_.size() < k) {
        cand_.push_back(c);
        std::push_heap(cand_.begin(), cand_.end(), better);  // worst on top
      } else if (better(c, cand_.front())) {
        std::pop_heap(cand_.begin(), cand_.end(), better);
        cand_.back() = c;
        std::push_heap(cand_.begin(), cand_.end(), better);
      }
    }
    if (penalise) mark(history, h0, 0);
    if (best.id < 0 || best.v == -INFINITY)
      throw Error("sampler: no token can be sampled (all logits excluded, -inf or NaN)");
    if (greedy) return best.id;

    // Weights relative to the best: w = exp((v − v_max) / T), p = w / Σw.
    const double inv_t = 1.0 / double(opt_.temperature);
    const double vmax = best.v;
    auto weight = [&](const Cand& c) { return std::exp((double(c.v) - vmax) * inv_t); };

    size_t m = cand_.size();  // candidates kept so far; [0, sorted) is sorted best first
    size_t sorted = 0;
    if (k != 0) {
      std::sort_heap(cand_.begin(), cand_.end(), better);  // ascending by "worse" = best first
      sorted = m;
    }
    if (opt_.top_p < 1.0f) {
      double total = 0.0;
      for (size_t i = 0; i < m; ++i) total += weight(cand_[i]);
      const double need = double(opt_.top_p) * total;
      double acc = 0.0;
      size_t i = 0;
      for (;;) {
        if (i == sorted) sorted = sort_more(sorted, m);
        acc += weight(cand_[i]);
        ++i;
        if (acc >= need || i == m) break;
      }
      m = i;
    }
    if (opt_.min_p > 0.0f) {  // p / p_max = w (the best has w = 1)
      size_t j = 0;
      for (size_t i = 0; i < m; ++i)
        if (weight(cand_[i]) >= double(opt_.min_p)) cand_[j++] = cand_[i];
      m = j;  // the best always survives (w = 1)
    }

    double total = 0.0;
    for (size_t i = 0; i < m; ++i) total += weight(cand_[i]);
    const double r = double(rng_() >> 11) * 0x1.0p-53 * total;  // uniform in [0, total)
    double acc = 0.0;
    for (size_t i = 0; i < m; ++i) {
      acc += weight(cand_[i]);
      if (r < acc) return cand_[i].id;
    }
    return cand_[m - 1].id;
  }

 private:
  struct Cand {
    float v;
    int id;
  };
  static constexpr uint8_t kExcluded = 1, kPenalised = 2;

  // a ranks before b: larger logit, ties → smaller id (deterministic).
  static bool better(const Cand& a, const Cand& b) {
    return a.v > b.v || (a.v == b.v && a.id < b.id);
  }

  void mark(const std::vector<int>& history, size_t from, uint8_t value) {
    for (size_t i = from; i < history.size(); ++i) {
      const int id = history[i];
      if (id < 0 || size_t(id) >= flags_.size()) continue;
      uint8_t& f = flags_[size_t(id)];
      f = uint8_t((f & kExcluded) | value);
    }
  }

  // Sorts (best first) a larger prefix of cand_[0, m): at least 4× the sorted
  // part, so top-p over 262k ids sorts only what its mass needs.
  size_t sort_more(size_t sorted, size_t m) {
    const size_t want = std::min(m, std::max<size_t>(64, sorted * 4));
    auto first = cand_.begin() + std::ptrdiff_t(sorted);
    auto mid = cand_.begin() + std::ptrdiff_t(want);
    std::nth_element(first, mid - 1, cand_.begin() + std::ptrdiff_t(m), better);
    std::sort(first, mid, better);
    return want;
  }

  SamplingOptions opt_;
  std::vector<uint8_t> flags_;  // per id: kExcluded | kPenalised
  std::vector<Cand> cand_;
  std::mt19937_64 rng_;
};

}  // namespace gemma3
