// gemma3-convert — Hugging Face Gemma 3 checkpoint directory -> one gemma3 model file.
//
//   gemma3-convert HF_DIR OUT_FILE [--type f32|bf16|q8|q4] [--no-verify]
//
// The work is gemma3::convert::convert_hf_checkpoint (gemma3/convert/hf_checkpoint.hpp).
#include <cstdio>
#include <string>
#include <vector>

#include "gemma3/convert/hf_checkpoint.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: gemma3-convert HF_DIR OUT_FILE [--type f32|bf16|q8|q4] [--no-verify]\n"
               "  Converts a Hugging Face Gemma 3 checkpoint (config.json, *.safetensors,\n"
               "  tokenizer.model, tokenizer_config.json) into one gemma3 model file.\n"
               "  --type       storage of the weight matrices (default bf16); norms, biases\n"
               "               and the position embedding are always f32\n"
               "  --no-verify  skip re-reading the written file to check its checksums\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  std::string type = "bf16";
  gemma3::convert::ConvertOptions opt;
  opt.progress = true;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        usage();
        return 0;
      } else if (a == "--type" && i + 1 < argc) {
        type = argv[++i];
      } else if (a.rfind("--type=", 0) == 0) {
        type = a.substr(7);
      } else if (a == "--no-verify") {
        opt.verify = false;
      } else if (!a.empty() && a[0] == '-') {
        usage();
        throw gemma3::Error("unknown option " + a);
      } else {
        pos.push_back(a);
      }
    }
    if (pos.size() != 2) {
      usage();
      return 1;
    }
    opt.type = gemma3::convert::parse_weight_type(type);
    const auto s = gemma3::convert::convert_hf_checkpoint(pos[0], pos[1], opt);
    std::fprintf(stderr, "wrote %s: %zu tensors, %llu bytes, type %s, %.1f s\n", pos[1].c_str(),
                 s.tensors, static_cast<unsigned long long>(s.bytes), type.c_str(), s.seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
