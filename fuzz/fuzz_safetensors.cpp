// fuzz/fuzz_safetensors.cpp — the safetensors header parser of the converter
// (convert::parse_safetensors; it uses the JSON reader). Accepted headers must
// describe byte ranges inside the input, each exactly numel × dtype size, and
// the parser's result is read back through those ranges so ASan sees any
// range it got wrong. Seeds: fuzz/corpus/safetensors (tiny checkpoints' headers
// with a few data bytes, hand-made edge cases).
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "gemma3/convert/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A heap copy of exactly `size` bytes: ASan flags a read one past the end.
  std::vector<uint8_t> buf(data, data + size);
  const uint8_t* p = buf.empty() ? nullptr : buf.data();
  std::vector<gemma3::convert::StTensor> ts;
  try {
    ts = gemma3::convert::parse_safetensors(p, size, "fuzz.safetensors");
  } catch (const gemma3::Error&) {
    return 0;
  }
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | buf[size_t(i)];
  unsigned sum = 0;
  for (const auto& t : ts) {
    FUZZ_CHECK(t.begin >= 8 + header && t.begin <= t.end && t.end <= size);
    FUZZ_CHECK(t.end - t.begin == t.numel() * gemma3::convert::st_dtype_size(t.dtype));
    for (uint64_t i = t.begin; i < t.end; ++i) sum += buf[size_t(i)];
  }
  return int(sum & 0);
}
