// fuzz/fuzz_sentencepiece.cpp — the tokenizer.model (SentencePiece ModelProto)
// reader and the vocabulary checks of Tokenizer::from_data; an accepted model
// is then used to encode and decode. Seeds: the tiny checkpoint's
// tokenizer.model and small hand-made protos (fuzz_make_corpus).
#include <string_view>

#include "fuzz_tokenizer_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    const gemma3::Tokenizer t = gemma3::Tokenizer::from_sentencepiece(in, "fuzz tokenizer.model");
    fuzz::exercise_tokenizer(t,
                             "Hello world <start_of_turn>user\n\xC3\xA9\xF0\x9F\x98\x80 \xFF  x");
  } catch (const gemma3::Error&) {
  }
  return 0;
}
