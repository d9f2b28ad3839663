// gemma3/weights.hpp — THE table of tensors, and the typed views the model
// code reads weights through.
//
// Every tensor of the model is described once, in tensor_table(): its
// canonical name in our model file, the Hugging Face names it is read from
// (spec §2.3), its shape computed from the ModelConfig, and its storage class:
//
//   Matrix  stored in the file's weight type (f32, bf16, q8 or q4) as
//           [rows, cols] = [out_features, in_features]: every linear weight,
//           embed_tokens (which is also the tied LM head, stored once), the
//           patch embedding viewed as [Hv, C·p·p], and the projector, which HF
//           stores [in, out] = [Hv, H] and we store TRANSPOSED to [H, Hv].
//   Small   always f32: norm weights, biases, the position embedding.
//
// Canonical names are the newer HF names without the leading "model."
// (e.g. "language_model.layers.0.self_attn.q_proj.weight").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/tensor.hpp"

namespace gemma3 {

enum class StorageClass : uint8_t { Matrix, Small };

// How the HF tensor becomes ours.
enum class SourceLayout : uint8_t {
  AsIs,       // same elements, same order (a Conv2d [Hv,C,p,p] is read as [Hv, C·p·p])
  Transpose,  // HF [a, b] -> ours [b, a] (the projector, spec §2.2)
};

struct TensorSpec {
  std::string name;                   // canonical name in our file
  StorageClass storage = StorageClass::Small;
  std::vector<uint64_t> shape;        // in our file; [rows, cols] for Matrix
  std::vector<uint64_t> hf_shape;     // in the HF checkpoint
  SourceLayout layout = SourceLayout::AsIs;
  std::vector<std::string> hf_names;  // accepted HF names (spec §2.3)
};

inline uint64_t element_count(const std::vector<uint64_t>& shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

// The type a tensor is stored in, in a file whose matrices are `file_type`.
inline WeightType storage_type(const TensorSpec& s, WeightType file_type) {
  return s.storage == StorageClass::Matrix ? file_type : WeightType::F32;
}

// Bytes of a tensor of type t and shape (Matrix: [rows, cols]; Small: any).
inline uint64_t tensor_bytes(WeightType t, const std::vector<uint64_t>& shape) {
  if (shape.size() == 2) return matrix_bytes(t, size_t(shape[0]), size_t(shape[1]));
  return element_count(shape) * (t == WeightType::BF16 ? 2 : 4);
}

// HF names that may appear in a checkpoint but are not stored: the tied LM
// head (spec §1.2 tie_word_embeddings). When present it must equal
// embed_tokens (the converter checks).
inline bool is_tied_lm_head_name(const std::string& n) {
  return n == "lm_head.weight" || n == "language_model.lm_head.weight";
}

namespace detail {

inline TensorSpec make_spec(std::string name, StorageClass storage, std::vector<uint64_t> shape,
                            std::vector<std::string> hf_names,
                            SourceLayout layout = SourceLayout::AsIs,
                            std::vector<uint64_t> hf_shape = {}) {
  TensorSpec s;
  s.name = std::move(name);
  s.storage = storage;
  s.shape = std::move(shape);
  s.hf_shape = hf_shape.empty() ? s.shape : std::move(hf_shape);
  s.layout = layout;
  s.hf_names = std::move(hf_names);
  return s;
}

// "language_model.X" is read from the released "language_model.model.X", the
// newer "model.language_model.X" and the text-only "model.X".
inline std::vector<std::string> text_names(const std::string& x) {
  return {"language_model.model." + x, "model.language_model." + x, "model." + x};
}
inline std::vector<std::string> vision_names(const std::string& x) {
  return {"vision_tower.vision_model." + x, "model.vision_tower.vision_model." + x};
}
inline std::vector<std::string> projector_names(const std::string& x) {
  return {"multi_modal_projector." + x, "model.multi_modal_projector." + x};
}

}  // namespace detail

// Every tensor of a model with config `cfg`, in file order. No vision tensors
// when !cfg.has_vision.
inline std::vector<TensorSpec> tensor_table(const ModelConfig& cfg) {
  using detail::make_spec;
  const auto M = StorageClass::Matrix;
  const auto S = StorageClass::Small;
  const TextConfig& t = cfg.text;
  const uint64_t H = uint64_t(t.hidden_size), D = uint64_t(t.head_dim);
  const uint64_t Nq = uint64_t(t.num_attention_heads), Nkv = uint64_t(t.num_key_value_heads);
  const uint64_t F = uint64_t(t.intermediate_size), V = uint64_t(t.vocab_size);
  std::vector<TensorSpec> out;

  auto text = [&](const std::string& x, StorageClass c, std::vector<uint64_t> shape) {
    out.push_back(make_spec("language_model." + x, c, std::move(shape), detail::text_names(x)));
  };
  text("embed_tokens.weight", M, {V, H});
  for (int i = 0; i < t.num_hidden_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    text(p + "input_layernorm.weight", S, {H});
    text(p + "self_attn.q_proj.weight", M, {Nq * D, H});
    text(p + "self_attn.k_proj.weight", M, {Nkv * D, H});
    text(p + "self_attn.v_proj.weight", M, {Nkv * D, H});
    text(p + "self_attn.o_proj.weight", M, {H, Nq * D});
    text(p + "self_attn.q_norm.weight", S, {D});
    text(p + "self_attn.k_norm.weight", S, {D});
    text(p + "post_attention_layernorm.weight", S, {H});
    text(p + "pre_feedforward_layernorm.weight", S, {H});
    text(p + "mlp.gate_proj.weight", M, {F, H});
    text(p + "mlp.up_proj.weight", M, {F, H});
    text(p + "mlp.down_proj.weight", M, {H, F});
    text(p + "post_feedforward_layernorm.weight", S, {H});
  }
  text("norm.weight", S, {H});
  if (!cfg.has_vision) return out;

  const VisionConfig& v = cfg.vision;
  const uint64_t Hv = uint64_t(v.hidden_size), I = uint64_t(v.intermediate_size);
  const uint64_t C = uint64_t(v.num_channels), P = uint64_t(v.patch_size);
  const uint64_t np = uint64_t(cfg.patches_per_side()) * uint64_t(cfg.patches_per_side());
  auto vis = [&](const std::string& x, StorageClass c, std::vector<uint64_t> shape) {
    out.push_back(make_spec("vision_tower.vision_model." + x, c, std::move(shape),
                            detail::vision_names(x)));
  };
  // Conv2d weight [Hv, C, p, p] read as the matrix [Hv, C·p·p] (same bytes).
  out.push_back(make_spec("vision_tower.vision_model.embeddings.patch_embedding.weight", M,
                          {Hv, C * P * P},
                          detail::vision_names("embeddings.patch_embedding.weight"),
                          SourceLayout::AsIs, {Hv, C, P, P}));
  vis("embeddings.patch_embedding.bias", S, {Hv});
  vis("embeddings.position_embedding.weight", S, {np, Hv});
  for (int j = 0; j < v.num_hidden_layers; ++j) {
    const std::string p = "encoder.layers." + std::to_string(j) + ".";
    vis(p + "layer_norm1.weight", S, {Hv});
    vis(p + "layer_norm1.bias", S, {Hv});
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      vis(p + "self_attn." + proj + ".weight", M, {Hv, Hv});
      vis(p + "self_attn." + proj + ".bias", S, {Hv});
    }
    vis(p + "layer_norm2.weight", S, {Hv});
    vis(p + "layer_norm2.bias", S, {Hv});
    vis(p + "mlp.fc1.weight", M, {I, Hv});
    vis(p + "mlp.fc1.bias", S, {I});
    vis(p + "mlp.fc2.weight", M, {Hv, I});
    vis(p + "mlp.fc2.bias", S, {Hv});
  }
  vis("post_layernorm.weight", S, {Hv});
  vis("post_layernorm.bias", S, {Hv});

  out.push_back(make_spec("multi_modal_projector.mm_soft_emb_norm.weight", S, {Hv},
                          detail::projector_names("mm_soft_emb_norm.weight")));
  // spec §2.2: HF stores [Hv, H] and computes x·W; we store Wᵀ = [H, Hv] so
  // that, like every other matrix, it is [out, in].
  out.push_back(make_spec("multi_modal_projector.mm_input_projection_weight", M, {H, Hv},
                          detail::projector_names("mm_input_projection_weight"),
                          SourceLayout::Transpose, {Hv, H}));
  return out;
}

// ---- typed views (what the decoder / vision code reads) ---------------------

struct DecoderLayerWeights {
  MatView q_proj, k_proj, v_proj, o_proj;  // [Nq*D, H], [Nkv*D, H], [Nkv*D, H], [H, Nq*D]
  const float* q_norm = nullptr;           // [D]
  const float* k_norm = nullptr;           // [D]
  MatView gate_proj, up_proj, down_proj;   // [F, H], [F, H], [H, F]
  const float* input_layernorm = nullptr;  // [H] each
  const float* post_attention_layernorm = nullptr;
  const float* pre_feedforward_layernorm = nullptr;
  const float* post_feedforward_layernorm = nullptr;
};

struct TextWeights {
  MatView embed_tokens;  // [V, H]; also the LM head (tied)
  std::vector<DecoderLayerWeights> layers;
  const float* norm = nullptr;  // [H]
};

struct VisionLayerWeights {
  MatView q_proj, k_proj, v_proj, out_proj, fc1, fc2;  // [Hv,Hv] x4, [I,Hv], [Hv,I]
  const float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr, *out_bias = nullptr;
  const float *fc1_bias = nullptr, *fc2_bias = nullptr;
  const float *layer_norm1_weight = nullptr, *layer_norm1_bias = nullptr;
  const float *layer_norm2_weight = nullptr, *layer_norm2_bias = nullptr;
};

struct VisionWeights {
  MatView patch_embedding;            // [Hv, C*p*p] (Conv2d weight flattened)
  const float* patch_bias = nullptr;  // [Hv]
  const float* position_embedding = nullptr;  // [num_patches, Hv]
  std::vector<VisionLayerWeights> layers;
  const float* post_layernorm_weight = nullptr;
  const float* post_layernorm_bias = nullptr;
};

struct ProjectorWeights {
  const float* mm_soft_emb_norm = nullptr;  // [Hv]
  MatView mm_input_projection;              // [H, Hv]: transposed at conversion
};

// Empty vision / projector views when the model has no vision tower.
struct Weights {
  TextWeights text;
  VisionWeights vision;
  ProjectorWeights projector;
};

class ModelFile;
// Binds every tensor of an open model file (presence, type and shape are
// checked again here). Defined in gemma3/model_file.hpp.
inline Weights bind_weights(const ModelFile& file);

}  // namespace gemma3

// ModelFile needs the table above and defines bind_weights(); including it
// here lets users include either header first.
#include "gemma3/model_file.hpp"
