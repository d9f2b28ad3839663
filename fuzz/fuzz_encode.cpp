// fuzz/fuzz_encode.cpp — Tokenizer::encode of arbitrary bytes (invalid UTF-8
// included) with the real Gemma 3 vocabulary.
//
// Oracle (SentencePiece semantics, spec'd in docs/tokenizer.md): encoding never
// fails, every id is inside the vocabulary, and decode(encode(x)) equals x with
// each byte that does not start a valid UTF-8 character replaced by U+FFFD and
// each U+2581 "▁" by a space (Gemma: identity normalizer, no dummy prefix, no
// whitespace squeezing, byte fallback). The expected text is computed here with
// an independent UTF-8 check (fuzz_common.hpp).
#include <string>
#include <string_view>

#include "fuzz_tokenizer_common.hpp"

FUZZ_LOAD_REAL_TOKENIZER_AT_START

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const gemma3::Tokenizer& t = fuzz::real_tokenizer();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string expect;
  for (size_t i = 0; i < in.size();) {
    const size_t n = fuzz::utf8_len(in, i);
    if (n == 0) {
      expect += "\xEF\xBF\xBD";
      ++i;
    } else {
      const std::string_view ch = in.substr(i, n);
      if (ch == "\xE2\x96\x81") expect += ' ';
      else expect.append(ch);
      i += n;
    }
  }
  try {
    const std::vector<int> ids = t.encode(in);
    for (int id : ids) FUZZ_CHECK(id >= 0 && id < t.vocab_size());
    FUZZ_CHECK(fuzz::checked_decode(t, ids) == expect);
  } catch (const gemma3::Error& e) {
    std::fprintf(stderr, "encode threw: %s\n", e.what());
    std::abort();  // encode accepts any bytes
  }
  return 0;
}
