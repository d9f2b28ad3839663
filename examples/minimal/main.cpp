// The smallest program that embeds gemma3: load a model, run one chat turn,
// stream the reply. Build it against the installed package (see CMakeLists.txt
// next to this file) or as part of the gemma3 build (gemma3-example-minimal).
//
//   gemma3-example-minimal MODEL.gemma3 ["PROMPT"]
#include <gemma3/gemma3.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " MODEL [PROMPT]\n";
    return 1;
  }
  try {
    gemma3::Model model(argv[1]);              // maps the file; nothing is copied
    gemma3::SessionOptions options;            // defaults: docs/api.md
    options.context = 1024;                    // KV cache positions, allocated up front
    gemma3::Session session(model, options);
    const std::string prompt = argc > 2 ? argv[2] : "Why is the sky blue?";
    session.chat(prompt, [](const std::string& text, int /*token*/) {
      std::cout << text << std::flush;         // whole UTF-8 characters, as they come
      return true;                             // false would stop the reply here
    }, /*max_new_tokens=*/256);
    const gemma3::Timings& t = session.timings();
    std::cerr << "\n[" << t.prompt_tokens << " prompt tokens, " << t.generated_tokens
              << " generated, " << t.decode_tokens_per_second() << " tokens/s]\n";
  } catch (const gemma3::Error& e) {           // bad file, bad input: a message, never a crash
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
