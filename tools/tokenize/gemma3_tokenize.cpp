// gemma3-tokenize: check tokenizer parity on your own corpus.
//
//   gemma3-tokenize MODEL_OR_TOKENIZER [--decode] < in.jsonl > out.jsonl
//
// MODEL_OR_TOKENIZER is a converted gemma3 model file, a SentencePiece tokenizer.model
// or a Hugging Face tokenizer.json. Each stdin line is a JSON object:
//   encode (default): {"text": "..."}  ->  {"ids": [...]}   (SentencePiece ids, no BOS)
//   --decode:         {"ids": [...]}   ->  {"text": "..."}
// One output line per input line; blank lines are skipped. Any error (bad file, bad
// line, id out of range) prints "error: ..." to stderr and exits 1.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "gemma3/json.hpp"
#include "gemma3/model.hpp"
#include "gemma3/tokenizer.hpp"

namespace json = gemma3::json;

namespace {

gemma3::Tokenizer load_any(const std::string& path) {
  char magic[8] = {};
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw gemma3::Error(path + ": cannot open file");
    f.read(magic, sizeof magic);
  }
  if (std::string(magic, sizeof magic) ==
      std::string(gemma3::kModelMagic, sizeof gemma3::kModelMagic))
    return gemma3::load_tokenizer_from_model_file(path);
  return gemma3::Tokenizer::load(path);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  bool decode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--decode") {
      decode = true;
    } else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: %s MODEL_OR_TOKENIZER [--decode] < in.jsonl > out.jsonl\n"
          "  encode: {\"text\": \"...\"} -> {\"ids\": [...]} (no BOS)\n"
          "  decode: {\"ids\": [...]} -> {\"text\": \"...\"}\n",
          argv[0]);
      return 0;
    } else if (path.empty() && (a.empty() || a[0] != '-')) {
      path = a;
    } else {
      std::fprintf(stderr,
                   "error: unexpected argument '%s' (usage: %s MODEL_OR_TOKENIZER [--decode])\n",
                   a.c_str(), argv[0]);
      return 1;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr,
                 "error: missing MODEL_OR_TOKENIZER (usage: %s MODEL_OR_TOKENIZER [--decode])\n",
                 argv[0]);
    return 1;
  }
  try {
    const gemma3::Tokenizer tok = load_any(path);
    std::string line, out;
    long line_no = 0;
    while (std::getline(std::cin, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      const std::string where = "stdin line " + std::to_string(line_no);
      const json::Value v = json::parse(line, where);
      if (!v.is_object()) throw gemma3::Error(where + ": expected a JSON object");
      out.clear();
      if (decode) {
        std::vector<int> ids;
        for (const auto& x : json::get(v, "ids", where).as_array(where + ": ids")) {
          const int64_t id = x.as_int(where + ": ids element");
          if (id < 0 || id >= tok.vocab_size())
            throw gemma3::Error(where + ": token id " + std::to_string(id) +
                                " is out of range (vocabulary has " +
                                std::to_string(tok.vocab_size()) + " pieces)");
          ids.push_back(static_cast<int>(id));
        }
        out = "{\"text\": " + json::quote(tok.decode(ids)) + "}";
      } else {
        const auto ids = tok.encode(json::get_string(v, "text", where));
        out = "{\"ids\": [";
        for (size_t i = 0; i < ids.size(); ++i) {
          if (i) out += ", ";
          out += std::to_string(ids[i]);
        }
        out += "]}";
      }
      out += '\n';
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
      throw gemma3::Error("cannot write to stdout");
    return 0;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
