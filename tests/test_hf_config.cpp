// HF config resolution: the released 4B config.json resolves to exactly the
// values of config_resolved_defaults.json (class defaults applied, spec §1.1),
// and bad values are rejected with an error naming the field.
#include <doctest/doctest.h>

#include "fmt_test_util.hpp"
#include "gemma3/convert/hf_config.hpp"

using namespace fmt_test;
namespace d = gemma3::detail;
namespace json = gemma3::json;
namespace cv = gemma3::convert;

namespace {
const std::string kReal = std::string(GEMMA3_TEST_DATA_DIR) + "/real-4b";

gemma3::ModelConfig resolve(const std::string& text) {
  gemma3::ModelConfig c = cv::resolve_hf_config(text, "config.json");
  d::validate_config(c, "config.json");
  return c;
}
}  // namespace

TEST_CASE("the released 4B config.json resolves to the HF-resolved values") {
  gemma3::ModelConfig c = cv::resolve_hf_config(read_text(kReal + "/config.json"), "config.json");
  cv::resolve_hf_preprocessor(read_text(kReal + "/preprocessor_config.json"),
                              "preprocessor_config.json", c);
  d::validate_config(c, "config.json");
  const json::Value want =
      json::parse(read_text(kReal + "/config_resolved_defaults.json"), "resolved");
  const json::Value& t = json::get(want, "text_config", "resolved");
  const json::Value& v = json::get(want, "vision_config", "resolved");
  auto i = [](const json::Value& o, const char* k) { return int(json::get_int(o, k, "resolved")); };
  auto f = [](const json::Value& o, const char* k) { return json::get_double(o, k, "resolved"); };
  CHECK(c.text.hidden_size == i(t, "hidden_size"));
  CHECK(c.text.intermediate_size == i(t, "intermediate_size"));
  CHECK(c.text.num_hidden_layers == i(t, "num_hidden_layers"));
  CHECK(c.text.vocab_size == i(t, "vocab_size"));
  CHECK(c.text.num_attention_heads == i(t, "num_attention_heads"));
  CHECK(c.text.num_key_value_heads == i(t, "num_key_value_heads"));
  CHECK(c.text.head_dim == i(t, "head_dim"));
  CHECK(c.text.max_position_embeddings == i(t, "max_position_embeddings"));
  CHECK(c.text.sliding_window == i(t, "sliding_window"));
  CHECK(c.text.sliding_window_pattern == i(t, "sliding_window_pattern"));
  CHECK(c.text.rms_norm_eps == f(t, "rms_norm_eps"));
  CHECK(c.text.rope_theta == f(t, "rope_theta"));
  CHECK(c.text.rope_local_base_freq == f(t, "rope_local_base_freq"));
  CHECK(c.text.query_pre_attn_scalar == f(t, "query_pre_attn_scalar"));
  CHECK(c.text.rope_scaling_factor ==
        json::get_double(json::get(t, "rope_scaling", "r"), "factor", "r"));
  CHECK(json::get(t, "attn_logit_softcapping", "r").is_null());
  CHECK(c.text.attn_logit_softcapping == 0);
  CHECK(json::get(t, "final_logit_softcapping", "r").is_null());
  CHECK(c.text.final_logit_softcapping == 0);
  CHECK(c.tokens.pad == i(t, "pad_token_id"));
  CHECK(c.tokens.eos == i(t, "eos_token_id"));
  CHECK(c.tokens.bos == i(t, "bos_token_id"));
  const auto& lt = json::get(t, "layer_types", "r").as_array();
  REQUIRE(c.text.layer_is_global.size() == lt.size());
  for (size_t k = 0; k < lt.size(); ++k)
    CHECK(c.text.layer_is_global[k] == (lt[k].as_string() == "full_attention"));
  CHECK(c.vision.hidden_size == i(v, "hidden_size"));
  CHECK(c.vision.image_size == i(v, "image_size"));
  CHECK(c.vision.intermediate_size == i(v, "intermediate_size"));
  CHECK(c.vision.num_attention_heads == i(v, "num_attention_heads"));
  CHECK(c.vision.num_hidden_layers == i(v, "num_hidden_layers"));
  CHECK(c.vision.patch_size == i(v, "patch_size"));
  CHECK(c.vision.num_channels == i(v, "num_channels"));
  CHECK(c.vision.layer_norm_eps == f(v, "layer_norm_eps"));
  CHECK(c.mm_tokens_per_image == i(want, "mm_tokens_per_image"));
  CHECK(c.tokens.boi == i(want, "boi_token_index"));
  CHECK(c.tokens.eoi == i(want, "eoi_token_index"));
  CHECK(c.tokens.image == i(want, "image_token_index"));
  std::vector<int> stop;
  for (const auto& x : json::get(want, "eos_token_id", "r").as_array())
    stop.push_back(int(x.as_int()));
  CHECK(c.tokens.stop == stop);
  CHECK(c.has_vision);
  CHECK(c.patches_per_side() == 64);
  CHECK(c.pooling_kernel() == 4);
  CHECK(c.preprocess.image_mean[0] == 0.5f);
  CHECK(c.preprocess.image_std[2] == 0.5f);
  CHECK(c.preprocess.rescale_factor == doctest::Approx(1.0 / 255).epsilon(1e-12));
  CHECK(!c.preprocess.do_pan_and_scan);
}

TEST_CASE("omitted values take the transformers class defaults, not the 4B values") {
  const gemma3::ModelConfig c =
      cv::resolve_hf_config("{\"model_type\": \"gemma3\"}", "config.json");
  CHECK(c.text.hidden_size == 2304);  // Gemma3TextConfig default
  CHECK(c.text.num_hidden_layers == 26);
  CHECK(c.text.intermediate_size == 9216);
  CHECK(c.text.sliding_window == 4096);
  CHECK(c.text.vocab_size == 262208);
  CHECK(c.vision.hidden_size == 768);  // SiglipVisionConfig default
  CHECK(c.vision.image_size == 224);
  CHECK(c.vision.patch_size == 16);
  CHECK(c.text.layer_is_global.size() == 26);
  CHECK(c.text.layer_is_global[5]);
  CHECK(!c.text.layer_is_global[6]);
  // Newer-transformers rope_parameters.
  const gemma3::ModelConfig n = cv::resolve_hf_config(
      "{\"model_type\": \"gemma3_text\", \"rope_parameters\": {\"full_attention\": {\"rope_type\": "
      "\"linear\", "
      "\"factor\": 4.0, \"rope_theta\": 500000.0}, \"sliding_attention\": {\"rope_type\": "
      "\"default\", \"rope_theta\": 20000.0}}}",
      "config.json");
  CHECK(!n.has_vision);
  CHECK(n.text.rope_scaling_factor == 4.0);
  CHECK(n.text.rope_theta == 500000.0);
  CHECK(n.text.rope_local_base_freq == 20000.0);
}

TEST_CASE("zero, negative, absurd and inconsistent values are rejected, naming the field") {
  auto bad = [](const std::string& text_fields, const std::string& needle,
                const std::string& top = "") {
    // The json reader keeps the first of duplicate keys: overrides come first.
    const std::string cfg =
        "{\"model_type\": \"gemma3\"" + top +
        ", \"vision_config\": {\"image_size\": 224, \"patch_size\": 14}"
        ", \"text_config\": {" +
        (text_fields.empty() ? "" : text_fields.substr(2) + ", ") +
        "\"hidden_size\": 64, \"num_hidden_layers\": 2, \"head_dim\": 16, \"vocab_size\": 300000}}";
    CAPTURE(cfg);
    CHECK_THROWS_WITH_AS(resolve(cfg), doctest::Contains(needle.c_str()), gemma3::Error);
  };
  CHECK_NOTHROW(
      resolve("{\"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": 64}, "
              "\"vision_config\": {\"image_size\": 224, \"patch_size\": 14}}"));
  // HF's bare class defaults are inconsistent (224/16 = 14x14 patches < 256 tokens).
  CHECK_THROWS_WITH_AS(resolve("{\"model_type\": \"gemma3\"}"),
                       doctest::Contains("mm_tokens_per_image"), gemma3::Error);
  bad(", \"hidden_size\": 0", "text.hidden_size");
  bad(", \"num_hidden_layers\": -3", "text.num_hidden_layers");
  bad(", \"num_attention_heads\": 0", "text.num_attention_heads");
  bad(", \"num_key_value_heads\": 3", "text.num_key_value_heads");
  bad(", \"num_key_value_heads\": 16", "text.num_key_value_heads");
  bad(", \"head_dim\": 15", "text.head_dim");
  bad(", \"intermediate_size\": 999999999", "text.intermediate_size");
  bad(", \"hidden_size\": 9999999999", "hidden_size");
  bad(", \"hidden_size\": 64.5", "hidden_size");
  bad(", \"vocab_size\": 100", "tokens.");  // 262144 image token no longer fits
  bad(", \"rms_norm_eps\": 0", "text.rms_norm_eps");
  bad(", \"rms_norm_eps\": -1e-6", "text.rms_norm_eps");
  bad(", \"rope_theta\": -1", "text.rope_theta");
  bad(", \"sliding_window\": 0", "text.sliding_window");
  bad(", \"query_pre_attn_scalar\": 0", "text.query_pre_attn_scalar");
  bad(", \"layer_types\": [\"full_attention\"]", "layer_types");
  bad(", \"layer_types\": [\"full_attention\", \"chunked\"]", "unknown layer type");
  bad(", \"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2}", "dynamic");
  bad(", \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": -2}",
      "text.rope_scaling_factor");
  bad(", \"attention_bias\": true", "attention_bias");
  bad(", \"tie_word_embeddings\": false", "tie_word_embeddings");
  bad(", \"final_logit_softcapping\": -5", "final_logit_softcapping");
  bad("", "mm_tokens_per_image", ", \"mm_tokens_per_image\": 8");
  bad("", "mm_tokens_per_image", ", \"mm_tokens_per_image\": 0");
  bad("", "vision.num_attention_heads",
      ", \"vision_config\": {\"hidden_size\": 48, \"num_attention_heads\": 5}");
  bad("", "vision.num_channels", ", \"vision_config\": {\"num_channels\": 4}");
  bad("", "vision.patch_size", ", \"vision_config\": {\"patch_size\": 0}");
  bad("", "tokens.stop", ", \"eos_token_id\": [1, 999999]");
  bad("", "eos_token_id", ", \"eos_token_id\": []");
  bad("", "tokens.boi", ", \"boi_token_index\": -1");
  CHECK_THROWS_WITH_AS(resolve("{\"text_config\": {}}"), doctest::Contains("model_type"),
                       gemma3::Error);
  CHECK_THROWS_WITH_AS(resolve("[]"), doctest::Contains("object"), gemma3::Error);
}
