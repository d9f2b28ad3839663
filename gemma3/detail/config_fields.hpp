// gemma3/detail/config_fields.hpp — the ModelConfig as named fields, and its
// sanity checks.
//
// for_each_config_field() lists every field of ModelConfig under a stable
// key ("text.hidden_size", ...). The model file stores the config as exactly
// these keys (docs/format.md), so writer and reader cannot drift apart: a
// field added to ModelConfig must be added here, and then the file carries it.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"

namespace gemma3::detail {

// f(key, field&) for every field; field types: int, double, float, bool,
// std::vector<bool>, std::vector<int>. Works on const and non-const configs.
template <class Config, class F>
void for_each_config_field(Config& c, F&& f) {
  f("text.hidden_size", c.text.hidden_size);
  f("text.num_hidden_layers", c.text.num_hidden_layers);
  f("text.num_attention_heads", c.text.num_attention_heads);
  f("text.num_key_value_heads", c.text.num_key_value_heads);
  f("text.head_dim", c.text.head_dim);
  f("text.intermediate_size", c.text.intermediate_size);
  f("text.vocab_size", c.text.vocab_size);
  f("text.max_position_embeddings", c.text.max_position_embeddings);
  f("text.sliding_window", c.text.sliding_window);
  f("text.sliding_window_pattern", c.text.sliding_window_pattern);
  f("text.rope_theta", c.text.rope_theta);
  f("text.rope_local_base_freq", c.text.rope_local_base_freq);
  f("text.rope_scaling_factor", c.text.rope_scaling_factor);
  f("text.rms_norm_eps", c.text.rms_norm_eps);
  f("text.query_pre_attn_scalar", c.text.query_pre_attn_scalar);
  f("text.attn_logit_softcapping", c.text.attn_logit_softcapping);
  f("text.final_logit_softcapping", c.text.final_logit_softcapping);
  f("text.layer_is_global", c.text.layer_is_global);
  f("vision.hidden_size", c.vision.hidden_size);
  f("vision.num_hidden_layers", c.vision.num_hidden_layers);
  f("vision.num_attention_heads", c.vision.num_attention_heads);
  f("vision.intermediate_size", c.vision.intermediate_size);
  f("vision.patch_size", c.vision.patch_size);
  f("vision.image_size", c.vision.image_size);
  f("vision.num_channels", c.vision.num_channels);
  f("vision.layer_norm_eps", c.vision.layer_norm_eps);
  for (int i = 0; i < 3; ++i)
    f("preprocess.image_mean." + std::to_string(i), c.preprocess.image_mean[i]);
  for (int i = 0; i < 3; ++i)
    f("preprocess.image_std." + std::to_string(i), c.preprocess.image_std[i]);
  f("preprocess.rescale_factor", c.preprocess.rescale_factor);
  f("preprocess.do_pan_and_scan", c.preprocess.do_pan_and_scan);
  f("preprocess.pan_and_scan_min_crop_size", c.preprocess.pan_and_scan_min_crop_size);
  f("preprocess.pan_and_scan_max_num_crops", c.preprocess.pan_and_scan_max_num_crops);
  f("preprocess.pan_and_scan_min_ratio_to_activate",
    c.preprocess.pan_and_scan_min_ratio_to_activate);
  f("tokens.pad", c.tokens.pad);
  f("tokens.eos", c.tokens.eos);
  f("tokens.bos", c.tokens.bos);
  f("tokens.start_of_turn", c.tokens.start_of_turn);
  f("tokens.end_of_turn", c.tokens.end_of_turn);
  f("tokens.boi", c.tokens.boi);
  f("tokens.eoi", c.tokens.eoi);
  f("tokens.image", c.tokens.image);
  f("tokens.stop", c.tokens.stop);
  f("mm_tokens_per_image", c.mm_tokens_per_image);
  f("has_vision", c.has_vision);
}

// Throws Error("<where>: <field> ...") unless every value is usable: positive
// sizes within generous limits (so sizes computed from them cannot overflow),
// consistent head counts and grid sizes, finite positive constants, token ids
// inside the embedding table.
inline void validate_config(const ModelConfig& c, const std::string& where) {
  auto fail = [&](const std::string& field, const std::string& what) {
    throw Error(where + ": config " + field + " " + what);
  };
  auto int_in = [&](const char* field, long long v, long long lo, long long hi) {
    if (v < lo || v > hi)
      fail(field, "= " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
  };
  auto pos = [&](const char* field, double v, double hi) {
    if (!(std::isfinite(v) && v > 0 && v <= hi))
      fail(field, "= " + std::to_string(v) + " must be finite, > 0 and <= " + std::to_string(hi));
  };
  const TextConfig& t = c.text;
  int_in("text.hidden_size", t.hidden_size, 1, 1 << 16);
  int_in("text.num_hidden_layers", t.num_hidden_layers, 1, 1024);
  int_in("text.num_attention_heads", t.num_attention_heads, 1, 1024);
  int_in("text.num_key_value_heads", t.num_key_value_heads, 1, t.num_attention_heads);
  if (t.num_attention_heads % t.num_key_value_heads != 0)
    fail("text.num_key_value_heads",
         "= " + std::to_string(t.num_key_value_heads) +
             " does not divide num_attention_heads = " + std::to_string(t.num_attention_heads));
  int_in("text.head_dim", t.head_dim, 2, 4096);
  if (t.head_dim % 2 != 0) fail("text.head_dim", "must be even (rotate-half RoPE, spec §3.4)");
  int_in("text.intermediate_size", t.intermediate_size, 1, 1 << 20);
  int_in("text.vocab_size", t.vocab_size, 1, 1 << 24);
  int_in("text.max_position_embeddings", t.max_position_embeddings, 1, 1 << 24);
  int_in("text.sliding_window", t.sliding_window, 1, 1 << 24);
  if (t.sliding_window > t.max_position_embeddings)  // inconsistent (issue 7 catalogue)
    fail("text.sliding_window", "= " + std::to_string(t.sliding_window) +
                                    " is larger than the context, max_position_embeddings = " +
                                    std::to_string(t.max_position_embeddings));
  int_in("text.sliding_window_pattern", t.sliding_window_pattern, 1, 1 << 16);
  pos("text.rope_theta", t.rope_theta, 1e12);
  pos("text.rope_local_base_freq", t.rope_local_base_freq, 1e12);
  pos("text.rope_scaling_factor", t.rope_scaling_factor, 1e6);
  pos("text.rms_norm_eps", t.rms_norm_eps, 1.0);
  pos("text.query_pre_attn_scalar", t.query_pre_attn_scalar, 1e12);
  if (!(std::isfinite(t.attn_logit_softcapping) && t.attn_logit_softcapping >= 0))
    fail("text.attn_logit_softcapping", "must be finite and >= 0 (0 = none)");
  if (!(std::isfinite(t.final_logit_softcapping) && t.final_logit_softcapping >= 0))
    fail("text.final_logit_softcapping", "must be finite and >= 0 (0 = none)");
  if (t.layer_is_global.size() != size_t(t.num_hidden_layers))
    fail("text.layer_is_global",
         "has " + std::to_string(t.layer_is_global.size()) +
             " entries, expected num_hidden_layers = " + std::to_string(t.num_hidden_layers));

  auto token = [&](const char* field, int id) { int_in(field, id, 0, t.vocab_size - 1); };
  token("tokens.pad", c.tokens.pad);
  token("tokens.eos", c.tokens.eos);
  token("tokens.bos", c.tokens.bos);
  token("tokens.start_of_turn", c.tokens.start_of_turn);
  token("tokens.end_of_turn", c.tokens.end_of_turn);
  if (c.tokens.stop.empty() || c.tokens.stop.size() > 64)
    fail("tokens.stop", "must list 1 to 64 token ids");
  for (int id : c.tokens.stop) token("tokens.stop", id);

  int_in("preprocess.pan_and_scan_min_crop_size", c.preprocess.pan_and_scan_min_crop_size, 1,
         1 << 16);
  int_in("preprocess.pan_and_scan_max_num_crops", c.preprocess.pan_and_scan_max_num_crops, 1, 1024);
  pos("preprocess.pan_and_scan_min_ratio_to_activate",
      c.preprocess.pan_and_scan_min_ratio_to_activate, 1e6);
  pos("preprocess.rescale_factor", c.preprocess.rescale_factor, 1e6);
  for (int i = 0; i < 3; ++i) {
    if (!std::isfinite(c.preprocess.image_mean[i])) fail("preprocess.image_mean", "must be finite");
    pos("preprocess.image_std", c.preprocess.image_std[i], 1e6);
  }

  if (!c.has_vision) return;
  const VisionConfig& v = c.vision;
  int_in("vision.hidden_size", v.hidden_size, 1, 1 << 16);
  int_in("vision.num_hidden_layers", v.num_hidden_layers, 1, 1024);
  int_in("vision.num_attention_heads", v.num_attention_heads, 1, v.hidden_size);
  if (v.hidden_size % v.num_attention_heads != 0)
    fail("vision.num_attention_heads",
         "= " + std::to_string(v.num_attention_heads) +
             " does not divide vision.hidden_size = " + std::to_string(v.hidden_size));
  int_in("vision.intermediate_size", v.intermediate_size, 1, 1 << 20);
  int_in("vision.patch_size", v.patch_size, 1, 1024);
  int_in("vision.image_size", v.image_size, v.patch_size, 1 << 14);
  if (v.image_size % v.patch_size != 0)
    fail("vision.image_size",
         "= " + std::to_string(v.image_size) +
             " is not a multiple of vision.patch_size = " + std::to_string(v.patch_size));
  int_in("vision.num_channels", v.num_channels, 3, 3);  // RGB preprocessing (spec §4.1)
  pos("vision.layer_norm_eps", v.layer_norm_eps, 1.0);
  const int pps = c.patches_per_side();
  int_in("mm_tokens_per_image", c.mm_tokens_per_image, 1, pps * pps);
  const int tps = c.tokens_per_side();
  if (tps * tps != c.mm_tokens_per_image || pps % tps != 0)
    fail("mm_tokens_per_image", "= " + std::to_string(c.mm_tokens_per_image) +
                                    " must be a square whose side divides the " +
                                    std::to_string(pps) + " patches per side");
  token("tokens.boi", c.tokens.boi);
  token("tokens.eoi", c.tokens.eoi);
  token("tokens.image", c.tokens.image);
}

}  // namespace gemma3::detail
