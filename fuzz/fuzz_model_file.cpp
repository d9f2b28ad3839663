// fuzz/fuzz_model_file.cpp — the model-file loader (ModelFile::open), the
// weight binding, the tokenizer stored in the file and, when all of that
// accepts the file, a Model and a two-token Session run on it.
//
// The header's file_size and CRC-32 are patched to match the input before it
// is opened (when the magic is present), so that mutations reach the checks
// behind the checksum instead of all failing at it. Seeds: fuzz/corpus/model_file
// (tiny files written by fuzz_make_corpus: f32/bf16/q8/q4, text-only and vision).
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "gemma3/detail/crc32.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/session.hpp"

namespace {

void patch_header(std::vector<uint8_t>& b) {
  if (b.size() < gemma3::kHeaderSize || std::memcmp(b.data(), gemma3::kModelMagic, 8) != 0) return;
  const uint64_t size = b.size();
  std::memcpy(b.data() + 16, &size, 8);
  uint64_t meta = 0;
  std::memcpy(&meta, b.data() + 24, 8);
  if (meta > size - gemma3::kHeaderSize) return;
  uint32_t crc = gemma3::detail::crc32(b.data(), 56);
  crc = gemma3::detail::crc32(b.data() + gemma3::kHeaderSize, size_t(meta), crc);
  std::memcpy(b.data() + 56, &crc, 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  std::vector<uint8_t> bytes(data, data + size);
  patch_header(bytes);
  const std::string& path = file.write(bytes.data(), bytes.size());
  try {
    const gemma3::ModelFile mf = gemma3::ModelFile::open(path);
    // Accepted: every table entry lies inside the mapping (verify_data then
    // reads every tensor byte: a range past the mapping would fault).
    for (const auto& t : mf.tensors()) FUZZ_CHECK(t.offset + t.size <= mf.file_size());
    try {
      mf.verify_data();
    } catch (const gemma3::Error&) {
      // tensor data changed by the mutation: expected
    }
  } catch (const gemma3::Error&) {
    return 0;
  }
  try {
    const gemma3::Model model(path);
    gemma3::SessionOptions o;
    o.context = 8;
    o.threads = 1;
    o.kv_type = (size & 1) ? gemma3::KVType::F32 : gemma3::KVType::BF16;
    o.sampling.greedy = true;
    gemma3::Session s(model, o);
    const int bos = model.config().tokens.bos;
    const auto r = s.generate({bos, bos}, {}, 2);
    for (int id : r.tokens) FUZZ_CHECK(id >= 0 && id < model.tokenizer().vocab_size());
  } catch (const gemma3::Error&) {
  }
  return 0;
}
