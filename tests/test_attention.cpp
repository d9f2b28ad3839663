// Tests of gemma3/attention.hpp (masks, grouped-query attention over the KV
// cache), gemma3/rope.hpp (tables vs the reference's) and gemma3/kv_cache.hpp.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "gemma3/attention.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/rope.hpp"
#include "text_goldens.hpp"

using namespace gemma3;
namespace json = gemma3::json;

namespace {

// The tiny fixture's text config, read from its config.json.
TextConfig tiny_text_config() {
  const auto& tc = json::get(goldens::tiny_config(), "text_config", "config");
  TextConfig c;
  c.hidden_size = int(json::get_int(tc, "hidden_size", "t"));
  c.num_hidden_layers = int(json::get_int(tc, "num_hidden_layers", "t"));
  c.num_attention_heads = int(json::get_int(tc, "num_attention_heads", "t"));
  c.num_key_value_heads = int(json::get_int(tc, "num_key_value_heads", "t"));
  c.head_dim = int(json::get_int(tc, "head_dim", "t"));
  c.max_position_embeddings = int(json::get_int(tc, "max_position_embeddings", "t"));
  c.sliding_window = int(json::get_int(tc, "sliding_window", "t"));
  c.sliding_window_pattern = int(json::get_int(tc, "sliding_window_pattern", "t"));
  c.rope_theta = json::get_double(tc, "rope_theta", "t");
  c.rope_local_base_freq = json::get_double(tc, "rope_local_base_freq", "t");
  c.rope_scaling_factor =
      json::get_double(json::get(tc, "rope_scaling", "t"), "factor", "rope_scaling");
  c.layer_is_global.clear();
  for (int i = 0; i < c.num_hidden_layers; ++i)
    c.layer_is_global.push_back((i + 1) % c.sliding_window_pattern == 0);
  return c;
}

}  // namespace

TEST_CASE("rope: tables equal the reference's cos/sin for local and global layers") {
  const TextConfig c = tiny_text_config();
  for (int global = 0; global < 2; ++global) {
    const Rope rope = global ? Rope::global(c) : Rope::local(c);
    const auto cos_ref = goldens::load(global ? "rope_global_cos" : "rope_local_cos");
    const auto sin_ref = goldens::load(global ? "rope_global_sin" : "rope_local_sin");
    REQUIRE(cos_ref.shape.size() == 2);
    REQUIRE(cos_ref.shape[1] == size_t(c.head_dim));
    const size_t half = size_t(c.head_dim / 2);
    std::vector<float> co(half), si(half), got_cos, got_sin;
    for (size_t pos = 0; pos < cos_ref.shape[0]; ++pos) {
      rope.cos_sin(pos, co.data(), si.data());
      for (int twice = 0; twice < 2; ++twice) {  // reference table = cat(freqs, freqs)
        got_cos.insert(got_cos.end(), co.begin(), co.end());
        got_sin.insert(got_sin.end(), si.begin(), si.end());
      }
    }
    INFO("global = " << global);
    goldens::check_close("cos", got_cos.data(), cos_ref, 1e-6, 0);
    goldens::check_close("sin", got_sin.data(), sin_ref, 1e-6, 0);
  }
}

TEST_CASE("rope: 4B frequencies (spec §8.4) and bad head_dim") {
  TextConfig c;  // defaults = the 4B, whose config.json sets rope_scaling factor 8
  c.rope_scaling_factor = 8;
  CHECK(Rope::global(c).inv_freq()[0] == doctest::Approx(1.0 / 8));
  CHECK(Rope::global(c).inv_freq()[127] == doctest::Approx(std::pow(1e6, -254.0 / 256) / 8));
  CHECK(Rope::local(c).inv_freq()[0] == 1.0f);
  CHECK_THROWS_AS(Rope(31, 1e4, 1), Error);
}

TEST_CASE("mask: the golden multimodal masks are rebuilt exactly from token_type_ids") {
  const TextConfig c = tiny_text_config();
  const std::vector<int> types = goldens::ids("mm_token_type_ids");
  const auto blocks = image_blocks_from_token_types(types);
  REQUIRE(blocks.size() == 2);
  for (int global = 0; global < 2; ++global) {
    const auto ref = goldens::load(global ? "mm_mask_full" : "mm_mask_sliding");
    REQUIRE(ref.shape == std::vector<size_t>{types.size(), types.size()});
    const auto m = build_attention_mask(types.size(), blocks, global, size_t(c.sliding_window));
    size_t mismatches = 0;
    for (size_t i = 0; i < m.size(); ++i) mismatches += float(m[i]) != ref.data[i];
    INFO("global = " << global);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("mask: spec §8.4 mini block [bos, a, boi, s×4, eoi, b]") {
  const std::vector<int> types = {0, 0, 0, 1, 1, 1, 1, 0, 0};
  const auto m = build_attention_mask(9, image_blocks_from_token_types(types), true, 1024);
  for (size_t i = 3; i < 7; ++i)
    for (size_t j = 0; j < 7; ++j) CHECK(m[i * 9 + j] == 1);  // every s sees bos, a, boi, all s
  for (size_t i = 3; i < 7; ++i) CHECK(m[i * 9 + 7] == 0);    // not eoi
  for (size_t j = 0; j < 9; ++j) CHECK(m[7 * 9 + j] == (j <= 7));  // eoi: causal
  CHECK(m[2 * 9 + 3] == 0);                                        // boi does not see the image
  // Sliding window: i − j < window exactly.
  const auto w = build_attention_mask(9, {}, false, 3);
  CHECK(w[5 * 9 + 3] == 1);
  CHECK(w[5 * 9 + 2] == 0);
}

namespace {

// Attention of a random sequence, once as one chunk and once position by
// position through the cache; returns both outputs.
void run_chunked_vs_stepwise(const TextConfig& c, bool global, KVType kv, size_t n,
                             std::vector<float>& full, std::vector<float>& step) {
  AttentionParams p;
  p.num_heads = size_t(c.num_attention_heads);
  p.num_kv_heads = size_t(c.num_key_value_heads);
  p.head_dim = size_t(c.head_dim);
  p.scale = 0.2f;
  p.global = global;
  p.window = size_t(c.sliding_window);
  const size_t layer = global ? 5 : 0;
  REQUIRE(c.layer_is_global[layer] == global);
  const size_t qrow = p.num_heads * p.head_dim, kvrow = p.num_kv_heads * p.head_dim;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> q(n * qrow), k(n * kvrow), v(n * kvrow);
  for (float& x : q) x = nd(rng);
  for (float& x : k) x = nd(rng);
  for (float& x : v) x = nd(rng);
  ops::ThreadContext ctx(3);
  KVCache a(c, n, kv), b(c, n, kv);
  a.round_to_type(k.data(), k.size());
  a.round_to_type(v.data(), v.size());
  full.assign(n * qrow, 0.0f);
  attention(p, a, layer, q.data(), k.data(), v.data(), n, 0, {}, full.data(), nullptr, ctx);
  step.assign(n * qrow, 0.0f);
  for (size_t t = 0; t < n; ++t) {
    attention(p, b, layer, q.data() + t * qrow, k.data() + t * kvrow, v.data() + t * kvrow, 1, t,
              {}, step.data() + t * qrow, nullptr, ctx);
    for (size_t l = 0; l < size_t(c.num_hidden_layers); ++l)
      b.store(l, t, k.data() + t * kvrow, v.data() + t * kvrow);
    b.advance(1);
  }
}

}  // namespace

TEST_CASE("attention: one chunk == position by position through the ring buffer") {
  const TextConfig c = tiny_text_config();
  for (KVType kv : {KVType::F32, KVType::BF16}) {
    for (bool global : {false, true}) {
      std::vector<float> full, step;
      run_chunked_vs_stepwise(c, global, kv, 40, full, step);  // 40 > window 16
      INFO("kv " << std::string(kv_type_name(kv)) << " global " << global);
      double worst = 0;
      for (size_t i = 0; i < full.size(); ++i)
        worst = std::max(worst, double(std::fabs(full[i] - step[i])));
      CHECK(worst <= 1e-6);
    }
  }
}

TEST_CASE("attention: probabilities follow the mask and sum to 1; heads share kv groups") {
  const TextConfig c = tiny_text_config();
  AttentionParams p;
  p.num_heads = 4;
  p.num_kv_heads = 2;
  p.head_dim = 8;
  p.scale = 1.0f;
  p.global = false;
  p.window = 3;
  TextConfig cc = c;
  cc.head_dim = 8;
  const size_t n = 6;
  KVCache cache(cc, n, KVType::F32);
  std::vector<float> q(n * 32, 0.0f), k(n * 16), v(n * 16);
  for (size_t i = 0; i < k.size(); ++i) k[i] = float(i % 7) * 0.1f;
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  std::vector<float> out(n * 32), probs(4 * n * n, 0.0f);
  // rows 2..3 form an image block: they see each other bidirectionally
  attention(p, cache, 0, q.data(), k.data(), v.data(), n, 0, {{2, 2}}, out.data(), probs.data(),
            ops::ThreadContext(2, 0));
  for (size_t h = 0; h < 4; ++h)
    for (size_t i = 0; i < n; ++i) {
      float sum = 0;
      for (size_t j = 0; j < n; ++j) {
        const float pr = probs[(h * n + i) * n + j];
        const bool allowed = (j <= i || (i == 2 && j == 3)) && i < j + 3;
        if (!allowed) CHECK(pr == 0.0f);
        if (allowed)
          CHECK(pr == doctest::Approx(1.0 / double(std::min<size_t>(i + 1, 3) + (i == 2))));
        sum += pr;
      }
      CHECK(sum == doctest::Approx(1.0));
    }
  // q = 0 → uniform weights; query heads 0,1 read kv head 0, heads 2,3 kv head 1.
  for (size_t d = 0; d < 8; ++d) {
    CHECK(out[0 * 32 + 0 * 8 + d] == v[0 * 16 + 0 * 8 + d]);
    CHECK(out[0 * 32 + 1 * 8 + d] == v[0 * 16 + 0 * 8 + d]);
    CHECK(out[0 * 32 + 3 * 8 + d] == v[0 * 16 + 1 * 8 + d]);
  }
}

TEST_CASE("kv cache: exact 4B byte figures (docs/decoder.md) and context checks") {
  TextConfig c;  // the 4B defaults: 34 layers, 5 global
  c.layer_is_global.clear();
  for (int i = 0; i < c.num_hidden_layers; ++i) c.layer_is_global.push_back((i + 1) % 6 == 0);
  CHECK(KVCache::bytes_for(c, 4096, KVType::BF16) == 205520896ull);
  CHECK(KVCache::bytes_for(c, 32768, KVType::BF16) == 792723456ull);
  CHECK(KVCache::bytes_for(c, 131072, KVType::BF16) == 2805989376ull);  // ≈ 2.8 GB
  CHECK(KVCache::bytes_for(c, 131072, KVType::F32) == 5611978752ull);
  CHECK_THROWS_AS(KVCache(c, 131073, KVType::BF16), Error);

  const TextConfig t = tiny_text_config();
  KVCache k(t, 10, KVType::F32);
  CHECK(k.bytes() == KVCache::bytes_for(t, 10, KVType::F32));
  k.advance(8);
  CHECK_NOTHROW(k.check_fits(2));
  CHECK_THROWS_WITH_AS(k.check_fits(3), doctest::Contains("context overflow"), Error);
  k.reset();
  CHECK(k.length() == 0);
}
