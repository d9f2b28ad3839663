// fuzz/fuzz_decode.cpp — Tokenizer::decode and StreamDecoder on arbitrary id
// lists with the real Gemma 3 vocabulary. Input: 3 bytes per id. The top bit
// of the third byte picks a byte piece <0xHH> (HH = first byte), so that runs
// of byte pieces forming valid, partial and invalid UTF-8 are common;
// otherwise the id is the 23-bit value modulo (vocab + 2) minus 1, which
// includes -1 and vocab (out of range).
//
// Oracle: an id outside the vocabulary throws gemma3::Error; otherwise the
// text is valid UTF-8 and the streamed pieces concatenate to decode()'s text.
#include <vector>

#include "fuzz_tokenizer_common.hpp"

FUZZ_LOAD_REAL_TOKENIZER_AT_START

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const gemma3::Tokenizer& t = fuzz::real_tokenizer();
  static const std::vector<int> byte_ids = [&] {
    std::vector<int> v(256);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      v[size_t(b)] = t.token_id(name).value();
    }
    return v;
  }();
  const int vocab = t.vocab_size();
  std::vector<int> ids;
  bool out_of_range = false;
  for (size_t i = 0; i + 3 <= size; i += 3) {
    const uint32_t v = uint32_t(data[i]) | uint32_t(data[i + 1]) << 8 | uint32_t(data[i + 2]) << 16;
    int id;
    if (v & 0x800000u) {
      id = byte_ids[data[i]];
    } else {
      id = int(v % uint32_t(vocab + 2)) - 1;
    }
    out_of_range = out_of_range || id < 0 || id >= vocab;
    ids.push_back(id);
  }
  try {
    const std::string text = fuzz::checked_decode(t, ids);
    FUZZ_CHECK(!out_of_range);
    FUZZ_CHECK(fuzz::valid_utf8(text));
  } catch (const gemma3::Error&) {
    FUZZ_CHECK(out_of_range);
  }
  return 0;
}
