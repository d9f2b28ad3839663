// gemma3-bench-tokenizer: encode throughput of gemma3::Tokenizer vs libsentencepiece on
// the same corpus in the same run (the benchmark is the only thing that links
// libsentencepiece; the library never does).
//
//   gemma3-bench-tokenizer TOKENIZER_MODEL GOLDEN_JSONL [--mb N] [--reps R]
//
// The corpus is the golden texts repeated until it has N MB (default 8), encoded
// line by line (one encode call per golden text) and also as one big document.
#include <sentencepiece_processor.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "gemma3/json.hpp"
#include "gemma3/tokenizer.hpp"

namespace json = gemma3::json;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Result {
  double seconds = 1e30;  // best of the repetitions
  size_t tokens = 0;
};

template <class F>
Result best_of(int reps, F&& f) {
  Result r;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now();
    const size_t n = f();
    r.seconds = std::min(r.seconds, now() - t0);
    r.tokens = n;
  }
  return r;
}

void report(const char* what, size_t bytes, const Result& ours, const Result& sp) {
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf(
      "%-10s gemma3: %7.2f MB/s %10.0f tok/s | sentencepiece: %7.2f MB/s %10.0f tok/s | ratio "
      "%.2fx\n",
      what, mb / ours.seconds, static_cast<double>(ours.tokens) / ours.seconds, mb / sp.seconds,
      static_cast<double>(sp.tokens) / sp.seconds, sp.seconds / ours.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) {
      std::fprintf(stderr, "usage: %s TOKENIZER_MODEL GOLDEN_JSONL [--mb N] [--reps R]\n", argv[0]);
      return 2;
    }
    double target_mb = 8;
    int reps = 3;
    for (int i = 3; i + 1 < argc; i += 2) {
      const std::string a = argv[i];
      if (a == "--mb") target_mb = std::stod(argv[i + 1]);
      else if (a == "--reps") reps = std::max(1, std::stoi(argv[i + 1]));
      else throw gemma3::Error("unknown option " + a);
    }
    std::vector<std::string> texts;
    {
      std::ifstream f(argv[2]);
      if (!f) throw gemma3::Error(std::string(argv[2]) + ": cannot open");
      std::string line;
      while (std::getline(f, line))
        if (!line.empty())
          texts.push_back(json::get_string(json::parse(line, argv[2]), "text", argv[2]));
    }
    if (texts.empty()) throw gemma3::Error(std::string(argv[2]) + ": no texts");
    std::vector<std::string> corpus;
    size_t bytes = 0;
    while (static_cast<double>(bytes) < target_mb * 1e6)
      for (const auto& t : texts) {
        corpus.push_back(t);
        bytes += t.size();
      }
    std::string document;
    for (const auto& t : corpus) document += t + "\n";

    double t0 = now();
    const gemma3::Tokenizer ours = gemma3::Tokenizer::load(argv[1]);
    const double load_ours = now() - t0;
    t0 = now();
    sentencepiece::SentencePieceProcessor sp;
    const auto st = sp.Load(argv[1]);
    if (!st.ok()) throw gemma3::Error(std::string(argv[1]) + ": sentencepiece: " + st.ToString());
    const double load_sp = now() - t0;
    std::printf("corpus: %zu texts, %.2f MB; load: gemma3 %.3f s, sentencepiece %.3f s\n",
                corpus.size(), static_cast<double>(bytes) / 1e6, load_ours, load_sp);

    // Parity on the whole corpus first: a benchmark of different outputs means nothing.
    size_t mismatches = 0;
    for (const auto& t : texts) {
      std::vector<int> b;
      sp.Encode(t, &b);
      mismatches += ours.encode(t) != b;
    }
    std::printf("parity: %zu/%zu golden texts differ\n", mismatches, texts.size());

    const Result lines_ours = best_of(reps, [&] {
      size_t n = 0;
      for (const auto& t : corpus) n += ours.encode(t).size();
      return n;
    });
    const Result lines_sp = best_of(reps, [&] {
      size_t n = 0;
      std::vector<int> ids;
      for (const auto& t : corpus) {
        sp.Encode(t, &ids);
        n += ids.size();
      }
      return n;
    });
    report("per-text", bytes, lines_ours, lines_sp);
    const Result doc_ours = best_of(reps, [&] { return ours.encode(document).size(); });
    const Result doc_sp = best_of(reps, [&] {
      std::vector<int> ids;
      sp.Encode(document, &ids);
      return ids.size();
    });
    report("document", document.size(), doc_ours, doc_sp);
    return mismatches == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
