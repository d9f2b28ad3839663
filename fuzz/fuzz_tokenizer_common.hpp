// fuzz/fuzz_tokenizer_common.hpp — what the tokenizer targets check on a
// tokenizer a file reader accepted: it encodes and decodes without error,
// ids stay inside the vocabulary, decoding gives valid UTF-8, and streaming
// decode equals one-shot decode.
#pragma once

#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "gemma3/tokenizer.hpp"

namespace fuzz {

// The real Gemma 3 tokenizer (tests/data/tokenizer/tokenizer.model), loaded once.
inline const gemma3::Tokenizer& real_tokenizer() {
  static const gemma3::Tokenizer t =
      gemma3::Tokenizer::load(data_dir() + "/tokenizer/tokenizer.model");
  return t;
}

// Targets using real_tokenizer() load it here, before the first input: the
// load (seconds under ASan) must not count against libFuzzer's per-input timeout.
#define FUZZ_LOAD_REAL_TOKENIZER_AT_START              \
  extern "C" int LLVMFuzzerInitialize(int*, char***) { \
    (void)fuzz::real_tokenizer();                      \
    return 0;                                          \
  }

// decode(ids) and the StreamDecoder agree and give valid UTF-8.
inline std::string checked_decode(const gemma3::Tokenizer& t, const std::vector<int>& ids) {
  const std::string one = t.decode(ids);
  gemma3::StreamDecoder sd(t);
  std::string streamed;
  for (int id : ids) {
    const std::string part = sd.push(id);
    FUZZ_CHECK(valid_utf8(part));  // never ends inside a character
    streamed += part;
  }
  streamed += sd.flush();
  FUZZ_CHECK(streamed == one);
  return one;
}

inline void exercise_tokenizer(const gemma3::Tokenizer& t, const std::string& text) {
  const std::vector<int> ids = t.encode(text);
  for (int id : ids) FUZZ_CHECK(id >= 0 && id < t.vocab_size());
  const std::string back = checked_decode(t, ids);
  (void)back;
  // Every piece decodes on its own (pieces of a vocabulary need not be UTF-8,
  // so only consistency is checked).
  std::vector<int> all;
  const int n = t.vocab_size() < 600 ? t.vocab_size() : 600;
  for (int id = 0; id < n; ++id) all.push_back(id);
  (void)t.decode(all);
}

}  // namespace fuzz
