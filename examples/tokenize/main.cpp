// The tokenizer on its own: text -> ids and pieces -> text, and the ids of a
// chat prompt. No model weights are needed: it reads a converted model file,
// a SentencePiece tokenizer.model or a Hugging Face tokenizer.json.
//
//   gemma3-example-tokenize tokenizer.model "Hello world"
//   gemma3-example-tokenize model.gemma3 "Hello world"
#include <gemma3/gemma3.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

// A converted model file starts with "GEMMA3MF"; anything else is a tokenizer file.
bool is_model_file(const std::string& path) {
  char magic[sizeof gemma3::kModelMagic] = {};
  std::ifstream(path, std::ios::binary).read(magic, sizeof magic);
  return std::string(magic, sizeof magic) == std::string(gemma3::kModelMagic, sizeof magic);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_OR_TOKENIZER TEXT\n";
    return 1;
  }
  try {
    const std::string path = argv[1], text = argv[2];
    const gemma3::Tokenizer tok = is_model_file(path) ? gemma3::load_tokenizer_from_model_file(path)
                                                      : gemma3::Tokenizer::load(path);
    std::printf("vocabulary: %d pieces, <bos> = %d, <eos> = %d\n", tok.vocab_size(), tok.bos_id(),
                tok.eos_id());

    // encode() adds no BOS: a model prompt starts with tok.bos_id().
    const std::vector<int> ids = tok.encode(text);
    std::printf("%zu tokens:\n", ids.size());
    for (int id : ids) std::printf("  %7d  \"%s\"\n", id, tok.piece(id).c_str());  // ▁ = a space

    // decode() is the exact inverse for valid UTF-8 text.
    const std::string back = tok.decode(ids);
    std::printf("decoded back: \"%s\" (%s)\n", back.c_str(),
                back == text ? "identical" : "differs");

    // The same text as one user turn of the Gemma 3 chat template. The ids that
    // vary by model come from a ChatFormat (ChatFormat::from_config(model.config())
    // with a model); a text-only prompt needs just BOS.
    const std::vector<gemma3::ChatMessage> conversation = {{"user", text}};
    std::printf("chat prompt: %s",
                gemma3::render_chat(conversation, /*add_generation_prompt=*/true).c_str());
    gemma3::ChatFormat format;
    format.bos_id = tok.bos_id();
    const std::vector<int> prompt = gemma3::tokenize_chat(tok, conversation, true, format);
    std::printf("chat prompt ids:");
    for (int id : prompt) std::printf(" %d", id);
    std::printf("\n");
  } catch (const gemma3::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
