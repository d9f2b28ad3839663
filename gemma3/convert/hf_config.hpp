// gemma3/convert/hf_config.hpp — Hugging Face config.json (+ preprocessor_config.json)
// resolved into a ModelConfig.
//
// The released config.json is sparse (spec §1.1): every value it omits takes
// the transformers class default — Gemma3TextConfig / SiglipVisionConfig /
// Gemma3Config — which are NOT the 4B values (e.g. the text default
// hidden_size is 2304). Those defaults are applied here, then every value is
// checked (detail::validate_config). Keys we do not use are ignored; keys
// that would change the computation in ways we do not implement (another
// activation, attention biases, untied embeddings, another RoPE type) are
// rejected with an error.
#pragma once

#include <cmath>
#include <string>

#include "gemma3/config.hpp"
#include "gemma3/detail/config_fields.hpp"
#include "gemma3/detail/file_util.hpp"
#include "gemma3/json.hpp"
#include "gemma3/error.hpp"

namespace gemma3::convert {

// The file helpers of the library, for the tools that read checkpoints.
using detail::file_exists;
using detail::read_file_bytes;

// Class defaults (transformers Gemma3TextConfig / SiglipVisionConfig).
inline TextConfig gemma3_text_class_defaults() {
  TextConfig t;
  t.vocab_size = 262208;
  t.hidden_size = 2304;
  t.intermediate_size = 9216;
  t.num_hidden_layers = 26;
  t.num_attention_heads = 8;
  t.num_key_value_heads = 4;
  t.head_dim = 256;
  t.max_position_embeddings = 131072;
  t.rms_norm_eps = 1e-6;
  t.rope_theta = 1e6;
  t.query_pre_attn_scalar = 256;
  t.sliding_window = 4096;
  t.sliding_window_pattern = 6;
  t.rope_local_base_freq = 1e4;
  t.rope_scaling_factor = 1.0;
  t.attn_logit_softcapping = 0;
  t.final_logit_softcapping = 0;
  return t;
}
inline VisionConfig siglip_vision_class_defaults() {
  VisionConfig v;
  v.hidden_size = 768;
  v.intermediate_size = 3072;
  v.num_hidden_layers = 12;
  v.num_attention_heads = 12;
  v.num_channels = 3;
  v.image_size = 224;
  v.patch_size = 16;
  v.layer_norm_eps = 1e-6;
  return v;
}

namespace hf {

inline int get_int_or(const json::Value& o, const char* key, int def, const std::string& what) {
  const json::Value* v = o.find(key);
  if (v == nullptr || v->is_null()) return def;
  const int64_t x = v->as_int(what + "." + key);
  if (x < INT32_MIN || x > INT32_MAX)
    throw Error(what + "." + key + ": value " + std::to_string(x) + " is out of range");
  return int(x);
}
inline double get_double_or(const json::Value& o, const char* key, double def,
                            const std::string& what) {
  const json::Value* v = o.find(key);
  if (v == nullptr || v->is_null()) return def;
  return v->as_double(what + "." + key);
}
inline bool get_bool_or(const json::Value& o, const char* key, bool def, const std::string& what) {
  const json::Value* v = o.find(key);
  if (v == nullptr || v->is_null()) return def;
  return v->as_bool(what + "." + key);
}
// An id or a list of ids (eos_token_id may be either).
inline std::vector<int> get_ids_or(const json::Value& o, const char* key, std::vector<int> def,
                                   const std::string& what) {
  const json::Value* v = o.find(key);
  if (v == nullptr || v->is_null()) return def;
  const std::string w = what + "." + key;
  std::vector<int> out;
  auto one = [&](const json::Value& x) {
    const int64_t id = x.as_int(w);
    if (id < 0 || id > INT32_MAX)
      throw Error(w + ": token id " + std::to_string(id) + " is out of range");
    out.push_back(int(id));
  };
  if (v->is_array()) {
    for (const auto& x : v->as_array()) one(x);
    if (out.empty()) throw Error(w + ": empty list");
  } else {
    one(*v);
  }
  return out;
}
inline void require_value(const json::Value& o, const char* key, const std::string& want,
                          const std::string& what) {
  const json::Value* v = o.find(key);
  if (v == nullptr || v->is_null()) return;
  if (v->as_string(what + "." + key) != want)
    throw Error(what + "." + key + ": \"" + v->as_string() + "\" is not supported (only \"" + want +
                "\")");
}
inline void require_bool(const json::Value& o, const char* key, bool want,
                         const std::string& what) {
  if (get_bool_or(o, key, want, what) != want)
    throw Error(what + "." + key + ": " + (want ? "false" : "true") + " is not supported");
}

// rope_scaling: null or {"rope_type"/"type": "linear"|"default", "factor": f}.
inline double linear_factor(const json::Value& rs, const std::string& w) {
  if (rs.is_null()) return 1.0;
  if (!rs.is_object()) throw Error(w + ": expected an object or null");
  const json::Value* type = rs.find("rope_type");
  if (type == nullptr) type = rs.find("type");
  const std::string t = type == nullptr ? "linear" : type->as_string(w + ".rope_type");
  if (t == "default") return 1.0;
  if (t != "linear") throw Error(w + ".rope_type: \"" + t + "\" is not supported (only linear)");
  return json::get_double(rs, "factor", w);
}

inline void resolve_text(const json::Value& tc, TextConfig& t, const std::string& w) {
  if (!tc.is_object()) throw Error(w + ": expected an object");
  t.hidden_size = get_int_or(tc, "hidden_size", t.hidden_size, w);
  t.num_hidden_layers = get_int_or(tc, "num_hidden_layers", t.num_hidden_layers, w);
  t.num_attention_heads = get_int_or(tc, "num_attention_heads", t.num_attention_heads, w);
  t.num_key_value_heads = get_int_or(tc, "num_key_value_heads", t.num_key_value_heads, w);
  t.head_dim = get_int_or(tc, "head_dim", t.head_dim, w);
  t.intermediate_size = get_int_or(tc, "intermediate_size", t.intermediate_size, w);
  t.vocab_size = get_int_or(tc, "vocab_size", t.vocab_size, w);
  t.max_position_embeddings =
      get_int_or(tc, "max_position_embeddings", t.max_position_embeddings, w);
  t.sliding_window = get_int_or(tc, "sliding_window", t.sliding_window, w);
  t.sliding_window_pattern = get_int_or(tc, "sliding_window_pattern", t.sliding_window_pattern, w);
  t.sliding_window_pattern = get_int_or(tc, "_sliding_window_pattern", t.sliding_window_pattern, w);
  t.rope_theta = get_double_or(tc, "rope_theta", t.rope_theta, w);
  t.rope_local_base_freq = get_double_or(tc, "rope_local_base_freq", t.rope_local_base_freq, w);
  t.rms_norm_eps = get_double_or(tc, "rms_norm_eps", t.rms_norm_eps, w);
  t.query_pre_attn_scalar = get_double_or(tc, "query_pre_attn_scalar", t.query_pre_attn_scalar, w);
  t.attn_logit_softcapping = get_double_or(tc, "attn_logit_softcapping", 0.0, w);
  t.final_logit_softcapping = get_double_or(tc, "final_logit_softcapping", 0.0, w);
  if (const json::Value* rs = tc.find("rope_scaling"))
    t.rope_scaling_factor = linear_factor(*rs, w + ".rope_scaling");
  // Newer transformers: per layer type {"full_attention": {...}, "sliding_attention": {...}}.
  if (const json::Value* rp = tc.find("rope_parameters"); rp != nullptr && !rp->is_null()) {
    const std::string rw = w + ".rope_parameters";
    if (const json::Value* full = rp->find("full_attention")) {
      t.rope_scaling_factor = linear_factor(*full, rw + ".full_attention");
      t.rope_theta = get_double_or(*full, "rope_theta", t.rope_theta, rw + ".full_attention");
    }
    if (const json::Value* sl = rp->find("sliding_attention")) {
      if (linear_factor(*sl, rw + ".sliding_attention") != 1.0)
        throw Error(rw + ".sliding_attention: RoPE scaling on local layers is not supported");
      t.rope_local_base_freq =
          get_double_or(*sl, "rope_theta", t.rope_local_base_freq, rw + ".sliding_attention");
    }
  }
  require_value(tc, "hidden_activation", "gelu_pytorch_tanh", w);
  require_value(tc, "hidden_act", "gelu_pytorch_tanh", w);
  require_bool(tc, "attention_bias", false, w);
  require_bool(tc, "tie_word_embeddings", true, w);
  // Layer kinds: layer_types when given, else the pattern (spec §1.2).
  t.layer_is_global.clear();
  if (const json::Value* lt = tc.find("layer_types"); lt != nullptr && !lt->is_null()) {
    for (const auto& x : lt->as_array(w + ".layer_types")) {
      const std::string& s = x.as_string(w + ".layer_types");
      if (s == "full_attention") t.layer_is_global.push_back(true);
      else if (s == "sliding_attention") t.layer_is_global.push_back(false);
      else throw Error(w + ".layer_types: unknown layer type \"" + s + "\"");
    }
    if (t.layer_is_global.size() != size_t(std::max(t.num_hidden_layers, 0)))
      throw Error(w + ".layer_types: " + std::to_string(t.layer_is_global.size()) +
                  " entries for " + std::to_string(t.num_hidden_layers) + " layers");
  } else if (t.num_hidden_layers > 0 && t.num_hidden_layers <= 1024 &&
             t.sliding_window_pattern > 0) {
    t.layer_is_global = TextConfig::layer_pattern(t.num_hidden_layers, t.sliding_window_pattern);
  }
}

inline void resolve_vision(const json::Value& vc, VisionConfig& v, const std::string& w) {
  if (!vc.is_object()) throw Error(w + ": expected an object");
  v.hidden_size = get_int_or(vc, "hidden_size", v.hidden_size, w);
  v.num_hidden_layers = get_int_or(vc, "num_hidden_layers", v.num_hidden_layers, w);
  v.num_attention_heads = get_int_or(vc, "num_attention_heads", v.num_attention_heads, w);
  v.intermediate_size = get_int_or(vc, "intermediate_size", v.intermediate_size, w);
  v.patch_size = get_int_or(vc, "patch_size", v.patch_size, w);
  v.image_size = get_int_or(vc, "image_size", v.image_size, w);
  v.num_channels = get_int_or(vc, "num_channels", v.num_channels, w);
  v.layer_norm_eps = get_double_or(vc, "layer_norm_eps", v.layer_norm_eps, w);
  require_value(vc, "hidden_act", "gelu_pytorch_tanh", w);
  require_bool(vc, "vision_use_head", false, w);
}

}  // namespace hf

// Resolves config.json text. `what` names it in errors ("DIR/config.json").
inline ModelConfig resolve_hf_config(const std::string& config_json, const std::string& what) {
  const json::Value root = json::parse(config_json, what);
  if (!root.is_object()) throw Error(what + ": expected a JSON object");
  ModelConfig c;
  c.text = gemma3_text_class_defaults();
  c.vision = siglip_vision_class_defaults();
  const std::string model_type = json::get_string(root, "model_type", what);
  const json::Value* tc = &root;
  std::string tw = what;
  if (model_type == "gemma3") {
    c.has_vision = true;
    if (const json::Value* t = root.find("text_config"); t != nullptr && !t->is_null()) {
      tc = t;
      tw = what + ": text_config";
    } else {
      tc = nullptr;
    }
    if (const json::Value* v = root.find("vision_config"); v != nullptr && !v->is_null())
      hf::resolve_vision(*v, c.vision, what + ": vision_config");
  } else if (model_type == "gemma3_text") {
    c.has_vision = false;
  } else {
    throw Error(what + ": model_type \"" + model_type +
                "\" is not supported (need gemma3 or gemma3_text)");
  }
  const json::Value empty = json::parse("{}", what);
  hf::resolve_text(tc ? *tc : empty, c.text, tw);
  const json::Value& t = tc ? *tc : empty;
  c.tokens.pad = hf::get_int_or(t, "pad_token_id", 0, tw);
  c.tokens.bos = hf::get_int_or(t, "bos_token_id", 2, tw);
  c.tokens.eos = hf::get_ids_or(t, "eos_token_id", {1}, tw).front();
  // Generation stops on the top-level eos ids (chat models: [1, 106]).
  c.tokens.stop = hf::get_ids_or(root, "eos_token_id", {c.tokens.eos}, what);
  c.tokens.boi = hf::get_int_or(root, "boi_token_index", 255999, what);
  c.tokens.eoi = hf::get_int_or(root, "eoi_token_index", 256000, what);
  c.tokens.image = hf::get_int_or(root, "image_token_index", 262144, what);
  c.mm_tokens_per_image = hf::get_int_or(root, "mm_tokens_per_image", 256, what);
  return c;  // the caller validates after the tokenizer has filled turn ids
}

// Applies preprocessor_config.json (image size must agree with the vision config).
inline void resolve_hf_preprocessor(const std::string& text, const std::string& what,
                                    ModelConfig& c) {
  const json::Value root = json::parse(text, what);
  if (!root.is_object()) throw Error(what + ": expected a JSON object");
  PreprocessConfig& p = c.preprocess;
  auto triple = [&](const char* key, float* out) {
    const json::Value* v = root.find(key);
    if (v == nullptr || v->is_null()) return;
    const auto& a = v->as_array(what + "." + key);
    if (a.size() != 3) throw Error(what + "." + key + ": expected 3 values (R, G, B)");
    for (int i = 0; i < 3; ++i) out[i] = float(a[size_t(i)].as_double(what + "." + key));
  };
  triple("image_mean", p.image_mean);
  triple("image_std", p.image_std);
  p.rescale_factor = hf::get_double_or(root, "rescale_factor", p.rescale_factor, what);
  if (!hf::get_bool_or(root, "do_rescale", true, what)) p.rescale_factor = 1.0;
  if (!hf::get_bool_or(root, "do_normalize", true, what)) {
    for (int i = 0; i < 3; ++i) {
      p.image_mean[i] = 0.0f;
      p.image_std[i] = 1.0f;
    }
  }
  p.do_pan_and_scan = hf::get_bool_or(root, "do_pan_and_scan", false, what);
  p.pan_and_scan_min_crop_size =
      hf::get_int_or(root, "pan_and_scan_min_crop_size", p.pan_and_scan_min_crop_size, what);
  p.pan_and_scan_max_num_crops =
      hf::get_int_or(root, "pan_and_scan_max_num_crops", p.pan_and_scan_max_num_crops, what);
  p.pan_and_scan_min_ratio_to_activate = hf::get_double_or(
      root, "pan_and_scan_min_ratio_to_activate", p.pan_and_scan_min_ratio_to_activate, what);
  if (hf::get_int_or(root, "resample", 2, what) != 2)
    throw Error(what + ".resample: only 2 (bilinear, spec §4.1) is supported");
  if (const json::Value* size = root.find("size");
      size != nullptr && !size->is_null() && c.has_vision) {
    const int h = hf::get_int_or(*size, "height", c.vision.image_size, what + ".size");
    const int wd = hf::get_int_or(*size, "width", c.vision.image_size, what + ".size");
    if (h != c.vision.image_size || wd != c.vision.image_size)
      throw Error(what + ".size: " + std::to_string(h) + "x" + std::to_string(wd) +
                  " disagrees with vision_config.image_size " +
                  std::to_string(c.vision.image_size));
  }
}

}  // namespace gemma3::convert
