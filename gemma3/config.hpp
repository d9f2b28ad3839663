// gemma3/config.hpp — the one configuration struct that flows everywhere.
//
// Every hyperparameter the forward pass needs, fully resolved: the released
// config.json is sparse and leaves most values to the transformers class
// defaults (spec §1.1), which the converter applies before writing the model
// file. Field names are Hugging Face's, so a reader can match them to
// config.json. Nothing elsewhere may assume a 4B value that is not here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemma3 {

// Text decoder (spec §1.2). Gemma3TextConfig defaults in comments.
struct TextConfig {
  int hidden_size = 2560;
  int num_hidden_layers = 34;
  int num_attention_heads = 8;
  int num_key_value_heads = 4;
  int head_dim = 256;  // not hidden_size / heads
  int intermediate_size = 10240;
  int vocab_size = 262208;  // embedding rows (> tokenizer pieces, spec §1.5)
  int max_position_embeddings = 131072;
  int sliding_window = 1024;          // local layers: key j visible from i iff i - j < window
  int sliding_window_pattern = 6;     // layer i is global iff (i + 1) % pattern == 0
  double rope_theta = 1e6;            // global layers
  double rope_local_base_freq = 1e4;  // local layers
  double rope_scaling_factor = 1.0;   // linear scaling, global layers only (8 for the 4B)
  double rms_norm_eps = 1e-6;
  double query_pre_attn_scalar = 256;  // attention scale = query_pre_attn_scalar^-0.5
  double attn_logit_softcapping = 0;   // 0 = none (Gemma 3 has none)
  double final_logit_softcapping = 0;  // 0 = none
  // Per layer: true = global (full attention), false = local (sliding window).
  // Filled from config.json's layer_types when present, else from the pattern
  // (the default: the 4B's 34 layers, every 6th global).
  std::vector<bool> layer_is_global = layer_pattern(34, 6);

  // spec §1.2: layer i is global iff (i + 1) % pattern == 0.
  static std::vector<bool> layer_pattern(int layers, int pattern) {
    std::vector<bool> global;
    for (int i = 0; i < layers; ++i) global.push_back((i + 1) % pattern == 0);
    return global;
  }
};

// SigLIP vision tower (spec §1.3).
struct VisionConfig {
  int hidden_size = 1152;
  int num_hidden_layers = 27;
  int num_attention_heads = 16;
  int intermediate_size = 4304;
  int patch_size = 14;
  int image_size = 896;
  int num_channels = 3;
  double layer_norm_eps = 1e-6;
};

// Image preprocessing (preprocessor_config.json, spec §4.1).
struct PreprocessConfig {
  float image_mean[3] = {0.5f, 0.5f, 0.5f};
  float image_std[3] = {0.5f, 0.5f, 0.5f};
  double rescale_factor = 1.0 / 255.0;
  bool do_pan_and_scan = false;
  int pan_and_scan_min_crop_size = 256;
  int pan_and_scan_max_num_crops = 4;
  double pan_and_scan_min_ratio_to_activate = 1.2;
};

// Special token ids (spec §1.4–1.5).
struct TokenIds {
  int pad = 0, eos = 1, bos = 2;
  int start_of_turn = 105, end_of_turn = 106;
  int boi = 255999;                  // <start_of_image>
  int eoi = 256000;                  // <end_of_image>
  int image = 262144;                // <image_soft_token>, an embedding row past the pieces
  std::vector<int> stop = {1, 106};  // generation stops on any of these
};

struct ModelConfig {
  TextConfig text;
  VisionConfig vision;
  PreprocessConfig preprocess;
  TokenIds tokens;
  int mm_tokens_per_image = 256;  // after the projector's average pooling
  bool has_vision = true;

  // Derived quantities, named as the spec names them.
  int patches_per_side() const { return vision.image_size / vision.patch_size; }
  int tokens_per_side() const;  // sqrt(mm_tokens_per_image)
  int pooling_kernel() const { return patches_per_side() / tokens_per_side(); }
};

inline int ModelConfig::tokens_per_side() const {
  int s = 0;
  while ((s + 1) * (s + 1) <= mm_tokens_per_image) ++s;
  return s;
}

}  // namespace gemma3
