// The smallest program that embeds gemma3: load a model, one chat turn with an
// image, the reply streamed. Build it against the installed package (see
// CMakeLists.txt next to this file) or with the project (gemma3-example-minimal).
//
//   gemma3-example-minimal MODEL.gemma3 IMAGE ["PROMPT"]
#include <gemma3/gemma3.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL IMAGE [PROMPT]\n";
    return 1;
  }
  try {
    gemma3::Model model(argv[1]);    // maps the file; nothing is copied
    gemma3::SessionOptions options;  // defaults: docs/api.md
    options.context = 1024;          // KV cache positions (an image takes 260)
    gemma3::Session session(model, options);
    session.chat(
        {gemma3::ChatPart::make_image_file(argv[2]),
         gemma3::ChatPart::make_text(argc > 3 ? argv[3] : "Describe this image.")},
        [](const std::string& text, int /*token*/) {
          std::cout << text << std::flush;  // whole UTF-8 characters, as they come
          return true;                      // false would stop the reply here
        },
        /*max_new_tokens=*/256);
    const gemma3::Timings& t = session.timings();
    std::cerr << "\n[" << t.images << " image in " << t.image_encode_seconds << " s, "
              << t.prompt_tokens << " prompt tokens, " << t.generated_tokens << " generated, "
              << t.decode_tokens_per_second() << " tokens/s]\n";
  } catch (const gemma3::Error& e) {  // bad file, bad image: a message, never a crash
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
