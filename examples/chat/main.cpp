// A multi-turn chat on stdin/stdout: one user turn per line, the reply
// streamed. The Session keeps the KV cache between turns, so each turn runs
// only its own new tokens (watch "prompt tokens" stay small).
//
//   gemma3-example-chat MODEL [--system TEXT] [--seed N]
//   > Name three rivers.
//   > Which of them is the longest?          (the model sees the earlier turns)
//   > /reset                                 (forget the conversation)
//   Ctrl-D ends.
#include <gemma3/gemma3.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " MODEL [--system TEXT] [--seed N]\n";
    return 1;
  }
  try {
    std::string system;
    gemma3::SessionOptions options;
    for (int i = 2; i + 1 < argc; i += 2) {
      const std::string flag = argv[i];
      if (flag == "--system") system = argv[i + 1];
      else if (flag == "--seed") options.sampling.seed = std::stoull(argv[i + 1]);
      else throw gemma3::Error("unknown option " + flag);
    }
    const gemma3::Model model(argv[1]);
    // The cache is allocated up front for `context` positions; 8192 unless the
    // model allows fewer. A conversation longer than that is an Error.
    options.context = std::min<size_t>(8192, size_t(model.config().text.max_position_embeddings));
    gemma3::Session session(model, options);
    if (!system.empty()) session.set_system(system);  // folded into the first user turn

    auto print = [](const std::string& text, int /*token*/) {
      std::cout << text << std::flush;
      return true;
    };
    std::string line;
    while (std::cerr << "> " << std::flush, std::getline(std::cin, line)) {
      if (line.empty()) continue;
      if (line == "/reset") {
        session.reset();
        if (!system.empty()) session.set_system(system);
        std::cerr << "[conversation forgotten]\n";
        continue;
      }
      const gemma3::GenerateResult reply = session.chat(line, print, /*max_new_tokens=*/512);
      const gemma3::Timings& t = session.timings();
      std::cout << "\n";
      std::fprintf(stderr,
                   "[%zu prompt tokens, %zu generated%s, %.1f tokens/s, %zu/%zu positions used]\n",
                   t.prompt_tokens, t.generated_tokens,
                   reply.reason == gemma3::StopReason::MaxTokens ? " (cut at the limit)" : "",
                   t.decode_tokens_per_second(), session.position(), session.context());
    }
    std::cerr << "\n";
  } catch (const std::exception& e) {  // gemma3::Error, or std::stoull's
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
