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
#include "gemma3/detail/config_fields.hpp"
#include "gemma3/error.hpp"
#include "gemma3/tensor.hpp"

namespace gemma3 {

enum class StorageClass : uint8_t { Matrix, Small };

// How the HF tensor becomes ours.
enum class SourceLayout : uint8_t {
  AsIs,       // same elements, same order (a Conv2d [Hv,C,p,p] is read as [Hv, C·p·p])
  Transpose,  // HF [a, b] -> ours [b, a] (the projector, spec §2.2)
};

struct TensorSpec {
  std::string name;  // canonical name in our file
  StorageClass storage = StorageClass::Small;
  std::vector<uint64_t> shape;     // in our file; [rows, cols] for Matrix
  std::vector<uint64_t> hf_shape;  // in the HF checkpoint
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
  MatView patch_embedding;                    // [Hv, C*p*p] (Conv2d weight flattened)
  const float* patch_bias = nullptr;          // [Hv]
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

// Where a tensor binds in Weights: exactly one of the two is set (both are
// null when for_each_tensor runs without Weights). A MatView slot means the
// tensor is a Matrix, a `const float*` slot that it is Small (f32).
struct TensorSlot {
  MatView* matrix = nullptr;
  const float** vector = nullptr;
};

enum class TensorParts : uint8_t { All, Text, Vision };  // Vision: tower + projector

// THE enumeration of a model's tensors (in the spirit of gemma.cpp's
// ForEachTensor): calls visit(const TensorSpec&, TensorSlot) for every tensor
// of `cfg`, in file order, and when `w` is given, with the view in *w the
// tensor binds to (w's layer lists are resized to the config). The table, the
// loader's binding and the validation of in-memory weights are all this loop.
// No vision tensors when !cfg.has_vision.
template <class Visit>
inline void for_each_tensor(const ModelConfig& cfg, Weights* w, const Visit& visit,
                            TensorParts parts = TensorParts::All) {
  Weights scratch;  // the slots' targets when the caller binds nothing
  Weights& W = w ? *w : scratch;
  auto M = [](MatView& m) { return TensorSlot{&m, nullptr}; };
  auto S = [](const float*& v) { return TensorSlot{nullptr, &v}; };
  auto emit = [&](std::string name, std::vector<uint64_t> shape, std::vector<std::string> hf_names,
                  TensorSlot slot, SourceLayout layout = SourceLayout::AsIs,
                  std::vector<uint64_t> hf_shape = {}) {
    const StorageClass storage = slot.matrix ? StorageClass::Matrix : StorageClass::Small;
    visit(detail::make_spec(std::move(name), storage, std::move(shape), std::move(hf_names), layout,
                            std::move(hf_shape)),
          w ? slot : TensorSlot{});
  };

  const TextConfig& t = cfg.text;
  const uint64_t H = uint64_t(t.hidden_size), D = uint64_t(t.head_dim);
  const uint64_t Nq = uint64_t(t.num_attention_heads), Nkv = uint64_t(t.num_key_value_heads);
  const uint64_t F = uint64_t(t.intermediate_size), V = uint64_t(t.vocab_size);
  if (parts != TensorParts::Vision) {
    auto text = [&](const std::string& x, TensorSlot slot, std::vector<uint64_t> shape) {
      emit("language_model." + x, std::move(shape), detail::text_names(x), slot);
    };
    TextWeights& tw = W.text;
    text("embed_tokens.weight", M(tw.embed_tokens), {V, H});  // also the tied LM head
    tw.layers.resize(size_t(t.num_hidden_layers));
    for (int i = 0; i < t.num_hidden_layers; ++i) {
      DecoderLayerWeights& L = tw.layers[size_t(i)];
      const std::string p = "layers." + std::to_string(i) + ".";
      text(p + "input_layernorm.weight", S(L.input_layernorm), {H});
      text(p + "self_attn.q_proj.weight", M(L.q_proj), {Nq * D, H});
      text(p + "self_attn.k_proj.weight", M(L.k_proj), {Nkv * D, H});
      text(p + "self_attn.v_proj.weight", M(L.v_proj), {Nkv * D, H});
      text(p + "self_attn.o_proj.weight", M(L.o_proj), {H, Nq * D});
      text(p + "self_attn.q_norm.weight", S(L.q_norm), {D});
      text(p + "self_attn.k_norm.weight", S(L.k_norm), {D});
      text(p + "post_attention_layernorm.weight", S(L.post_attention_layernorm), {H});
      text(p + "pre_feedforward_layernorm.weight", S(L.pre_feedforward_layernorm), {H});
      text(p + "mlp.gate_proj.weight", M(L.gate_proj), {F, H});
      text(p + "mlp.up_proj.weight", M(L.up_proj), {F, H});
      text(p + "mlp.down_proj.weight", M(L.down_proj), {H, F});
      text(p + "post_feedforward_layernorm.weight", S(L.post_feedforward_layernorm), {H});
    }
    text("norm.weight", S(tw.norm), {H});
  }
  if (!cfg.has_vision || parts == TensorParts::Text) return;

  const VisionConfig& v = cfg.vision;
  const uint64_t Hv = uint64_t(v.hidden_size), I = uint64_t(v.intermediate_size);
  const uint64_t C = uint64_t(v.num_channels), P = uint64_t(v.patch_size);
  const uint64_t np = uint64_t(cfg.patches_per_side()) * uint64_t(cfg.patches_per_side());
  auto vis = [&](const std::string& x, TensorSlot slot, std::vector<uint64_t> shape) {
    emit("vision_tower.vision_model." + x, std::move(shape), detail::vision_names(x), slot);
  };
  VisionWeights& vw = W.vision;
  // Conv2d weight [Hv, C, p, p] read as the matrix [Hv, C·p·p] (same bytes).
  emit("vision_tower.vision_model.embeddings.patch_embedding.weight", {Hv, C * P * P},
       detail::vision_names("embeddings.patch_embedding.weight"), M(vw.patch_embedding),
       SourceLayout::AsIs, {Hv, C, P, P});
  vis("embeddings.patch_embedding.bias", S(vw.patch_bias), {Hv});
  vis("embeddings.position_embedding.weight", S(vw.position_embedding), {np, Hv});
  vw.layers.resize(size_t(v.num_hidden_layers));
  for (int j = 0; j < v.num_hidden_layers; ++j) {
    VisionLayerWeights& L = vw.layers[size_t(j)];
    const std::string p = "encoder.layers." + std::to_string(j) + ".";
    vis(p + "layer_norm1.weight", S(L.layer_norm1_weight), {Hv});
    vis(p + "layer_norm1.bias", S(L.layer_norm1_bias), {Hv});
    vis(p + "self_attn.q_proj.weight", M(L.q_proj), {Hv, Hv});
    vis(p + "self_attn.q_proj.bias", S(L.q_bias), {Hv});
    vis(p + "self_attn.k_proj.weight", M(L.k_proj), {Hv, Hv});
    vis(p + "self_attn.k_proj.bias", S(L.k_bias), {Hv});
    vis(p + "self_attn.v_proj.weight", M(L.v_proj), {Hv, Hv});
    vis(p + "self_attn.v_proj.bias", S(L.v_bias), {Hv});
    vis(p + "self_attn.out_proj.weight", M(L.out_proj), {Hv, Hv});
    vis(p + "self_attn.out_proj.bias", S(L.out_bias), {Hv});
    vis(p + "layer_norm2.weight", S(L.layer_norm2_weight), {Hv});
    vis(p + "layer_norm2.bias", S(L.layer_norm2_bias), {Hv});
    vis(p + "mlp.fc1.weight", M(L.fc1), {I, Hv});
    vis(p + "mlp.fc1.bias", S(L.fc1_bias), {I});
    vis(p + "mlp.fc2.weight", M(L.fc2), {Hv, I});
    vis(p + "mlp.fc2.bias", S(L.fc2_bias), {Hv});
  }
  vis("post_layernorm.weight", S(vw.post_layernorm_weight), {Hv});
  vis("post_layernorm.bias", S(vw.post_layernorm_bias), {Hv});

  ProjectorWeights& pw = W.projector;
  emit("multi_modal_projector.mm_soft_emb_norm.weight", {Hv},
       detail::projector_names("mm_soft_emb_norm.weight"), S(pw.mm_soft_emb_norm));
  // spec §2.2: HF stores [Hv, H] and computes x·W; we store Wᵀ = [H, Hv] so
  // that, like every other matrix, it is [out, in].
  emit("multi_modal_projector.mm_input_projection_weight", {H, Hv},
       detail::projector_names("mm_input_projection_weight"), M(pw.mm_input_projection),
       SourceLayout::Transpose, {Hv, H});
}

// Every tensor of a model with config `cfg`, in file order.
inline std::vector<TensorSpec> tensor_table(const ModelConfig& cfg) {
  std::vector<TensorSpec> out;
  for_each_tensor(cfg, nullptr, [&](const TensorSpec& s, TensorSlot) { out.push_back(s); });
  return out;
}

// Checks weights built in memory (not loaded from a file, whose loader
// checks them): the config (detail::validate_config), then that every view of
// `parts` is set and every matrix has the table's shape. The Decoder and
// VisionEncoder take their inputs as valid; call this once before them.
inline void validate_weights(const ModelConfig& cfg, const Weights& w,
                             TensorParts parts = TensorParts::All) {
  const std::string where = "weights";
  detail::validate_config(cfg, where);
  if (parts == TensorParts::Vision && !cfg.has_vision)
    throw Error(where + ": the config has no vision tower (text-only)");
  auto count = [&](size_t have, int want, const char* what) {
    if (have != size_t(want))
      throw Error(where + ": " + std::to_string(have) + " " + what + " bound, the config says " +
                  std::to_string(want));
  };
  if (parts != TensorParts::Vision)
    count(w.text.layers.size(), cfg.text.num_hidden_layers, "decoder layers");
  if (parts != TensorParts::Text && cfg.has_vision)
    count(w.vision.layers.size(), cfg.vision.num_hidden_layers, "vision encoder layers");
  Weights copy = w;  // same layer counts, so the enumeration resizes nothing
  for_each_tensor(
      cfg, &copy,
      [&](const TensorSpec& s, TensorSlot slot) {
        if (slot.vector && *slot.vector == nullptr)
          throw Error(where + ": tensor " + s.name + " is missing");
        if (!slot.matrix) return;
        const MatView& m = *slot.matrix;
        if (m.data == nullptr) throw Error(where + ": tensor " + s.name + " is missing");
        if (m.rows != s.shape[0] || m.cols != s.shape[1])
          throw Error(where + ": tensor " + s.name + " is [" + std::to_string(m.rows) + ", " +
                      std::to_string(m.cols) + "], the config implies [" +
                      std::to_string(s.shape[0]) + ", " + std::to_string(s.shape[1]) + "]");
      },
      parts);
}

}  // namespace gemma3
