// gemma3/model.hpp — a loaded model: the mapped file, its weights, tokenizer
// and text decoder (plus the vision tower's weights when has_vision(); a
// Session builds a VisionEncoder, whose scratch is per use, from them).
//
//   gemma3::Model model("gemma-3-4b-it.g3");   // throws gemma3::Error
//
// Thread-safety: a Model is immutable after construction and may be shared by
// any number of threads and Sessions (each Session owns its KV cache and
// buffers). It must outlive the Sessions that use it. It is neither copyable
// nor movable (the decoder points into it); hold it by value or in a
// std::unique_ptr / std::shared_ptr.
#pragma once

#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/decoder.hpp"
#include "gemma3/error.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/sampler.hpp"
#include "gemma3/tokenizer.hpp"
#include "gemma3/weights.hpp"

namespace gemma3 {

class Model {
 public:
  // Maps and validates the model file (verify_data: also checksum every
  // tensor, which reads the whole file).
  explicit Model(const std::string& path, bool verify_data = false)
      : file_(ModelFile::open(path, LoadOptions{verify_data})),
        weights_(bind_weights(file_)),
        tokenizer_(Tokenizer::from_data(file_.tokenizer_data(), path)),
        decoder_(file_.config(), weights_.text) {
    const ModelConfig& c = file_.config();
    if (tokenizer_.vocab_size() > c.text.vocab_size)
      throw Error(path + ": tokenizer has " + std::to_string(tokenizer_.vocab_size()) +
                  " pieces but the embedding only " + std::to_string(c.text.vocab_size) + " rows");
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return file_.config(); }
  const ModelFile& file() const { return file_; }
  const Weights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const Decoder& decoder() const { return decoder_; }
  // false for a text-only model: image parts are refused.
  bool has_vision() const { return config().has_vision; }

  // Ids a sampler may return: [0, tokenizer pieces) minus the image markers
  // (spec §1.5). The logits have config().text.vocab_size entries.
  size_t sample_vocab() const { return size_t(tokenizer_.vocab_size()); }
  std::vector<int> never_sample() const { return never_sample_ids(config()); }

 private:
  ModelFile file_;
  Weights weights_;
  Tokenizer tokenizer_;
  Decoder decoder_;
};

// The tokenizer stored in a model file (for tools that need only the tokenizer).
inline Tokenizer load_tokenizer_from_model_file(const std::string& path) {
  const ModelFile f = ModelFile::open(path);
  return Tokenizer::from_data(f.tokenizer_data(), path);
}

}  // namespace gemma3
