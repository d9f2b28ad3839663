// fuzz/fuzz_hf_config.cpp — the converter's JSON config resolution:
// config.json (+ preprocessor_config.json after a NUL byte in the input)
// resolved into a ModelConfig and validated (convert::resolve_hf_config,
// resolve_hf_preprocessor, validate_config). A config that validates must
// give a tensor table whose byte sizes do not overflow. Seeds: the released
// 4B config, the tiny config, text-only and preprocessor variants.
#include <cstring>
#include <string>

#include "fuzz_common.hpp"
#include "gemma3/detail/config_fields.hpp"
#include "gemma3/convert/hf_config.hpp"
#include "gemma3/weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string cfg_text = in.substr(0, nul);
  try {
    gemma3::ModelConfig c = gemma3::convert::resolve_hf_config(cfg_text, "config.json");
    if (nul != std::string::npos)
      gemma3::convert::resolve_hf_preprocessor(in.substr(nul + 1), "preprocessor_config.json", c);
    // The converter takes these two ids from the tokenizer; keep them in range.
    c.tokens.start_of_turn = c.text.vocab_size > 105 ? 105 : 0;
    c.tokens.end_of_turn = c.text.vocab_size > 106 ? 106 : 0;
    gemma3::detail::validate_config(c, "config.json");
    // Validated: sizes computed from it must not overflow 64 bits (each
    // tensor is well under 2^50 bytes), and the table must be well formed.
    const auto specs = gemma3::tensor_table(c);
    FUZZ_CHECK(!specs.empty());
    for (const auto& s : specs) {
      uint64_t n = 1;
      for (uint64_t d : s.shape) {
        FUZZ_CHECK(d > 0 && d < (uint64_t(1) << 32));
        FUZZ_CHECK(n < (uint64_t(1) << 50) / d);
        n *= d;
      }
      FUZZ_CHECK(gemma3::tensor_bytes(gemma3::WeightType::F32, s.shape) < (uint64_t(1) << 52));
    }
    FUZZ_CHECK(c.text.layer_is_global.size() == size_t(c.text.num_hidden_layers));
  } catch (const gemma3::Error&) {
  }
  return 0;
}
