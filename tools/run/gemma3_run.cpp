// gemma3-run — chat with a Gemma 3 model (or complete raw text) on the CPU.
//
//   gemma3-run -m MODEL -p "Why is the sky blue?"     one chat turn
//   gemma3-run -m MODEL                                interactive chat (stdin lines; EOF ends)
//   gemma3-run -m MODEL --raw -p "Once upon a time"    plain text completion (BOS + text)
//   gemma3-run -m MODEL --image cat.jpg -p "What is this?"   images in the user turn
//
// Text is streamed to stdout as it is generated; speed figures go to stderr.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "gemma3/session.hpp"
#include "tools/common/args.hpp"

namespace {

using gemma3::tools::parse_float;
using gemma3::tools::parse_size;

using gemma3::Error;

void usage() {
  std::fprintf(
      stderr,
      "usage: gemma3-run -m MODEL [-p PROMPT] [options]\n"
      "  -m, --model FILE      model file (made by gemma3-convert)\n"
      "  -p, --prompt TEXT     one chat turn; without -p: interactive chat on stdin (EOF ends)\n"
      "  --image FILE          an image for the (first) user turn, before the prompt text;\n"
      "                        repeatable, in order (PNG, JPEG, BMP, GIF, PNM)\n"
      "  --pan-and-scan        also show the model crops of wide or tall images (more tokens)\n"
      "  --system TEXT         system prompt (folded into the first user turn)\n"
      "  --raw                 no chat template: BOS + the prompt text, then continue it\n"
      "  -n, --max-tokens N    most tokens generated per turn (default 1024)\n"
      "  --temp T              temperature (default 1.0; 0 = greedy)\n"
      "  --top-k K             keep the K most likely tokens (default 64; 0 = off)\n"
      "  --top-p P             nucleus sampling mass (default 0.95; 1 = off)\n"
      "  --min-p P             drop tokens below P x the top probability (default 0 = off)\n"
      "  --repeat-penalty R    penalise the last 64 tokens (default 1.0 = off)\n"
      "  --greedy              always take the most likely token\n"
      "  --seed S              random seed (default: random)\n"
      "  --threads N           threads (default: all cores)\n"
      "  --ctx N               context length in tokens (default 8192, at most the model's)\n"
      "  --kv f32|bf16         KV cache type (default bf16: half the memory)\n"
      "  -q, --quiet           no speed figures on stderr\n"
      "interactive chat: each stdin line is a user turn; a line \"/image PATH\" attaches an\n"
      "image to the next turn (repeatable, shown to the model before that turn's text).\n");
}

void print_stats(const gemma3::Timings& t) {
  std::string images;
  if (t.images > 0) {
    char b[128];
    std::snprintf(b, sizeof b, "image encode %zu image%s, %.2f s (+ %.2f s loading) | ", t.images,
                  t.images == 1 ? "" : "s", t.image_encode_seconds, t.image_load_seconds);
    images = b;
  }
  std::fprintf(stderr,
               "[%sprefill %zu tokens, %.1f tokens/s | decode %zu tokens, %.1f tokens/s | "
               "time to first token %.3f s]\n",
               images.c_str(), t.prompt_tokens, t.prefill_tokens_per_second(), t.generated_tokens,
               t.decode_tokens_per_second(), t.time_to_first_token);
}

// The user turn: the images first, then the text (HF's usual
// [{"type": "image"}, ..., {"type": "text"}] order).
std::vector<gemma3::ChatPart> turn_parts(std::vector<gemma3::ChatPart>& images,
                                         const std::string& text, bool quiet) {
  // The vision tower takes a while on a CPU (tens of seconds per image at
  // 4B size): say so before the reply starts.
  if (!quiet && !images.empty())
    std::fprintf(stderr, "[encoding %zu image%s...]\n", images.size(),
                 images.size() == 1 ? "" : "s");
  std::vector<gemma3::ChatPart> parts = std::move(images);
  images.clear();
  parts.push_back(gemma3::ChatPart::make_text(text));
  return parts;
}

int run(int argc, char** argv) {
  std::string model_path, prompt, system;
  std::vector<std::string> image_paths;
  bool have_prompt = false, raw = false, quiet = false;
  size_t max_tokens = 1024, ctx = 0;
  gemma3::SessionOptions opt;
  gemma3::tools::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.flag();
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (a == "-m" || a == "--model") {
      model_path = args.value();
    } else if (a == "-p" || a == "--prompt") {
      prompt = args.value();
      have_prompt = true;
    } else if (a == "--system") {
      system = args.value();
    } else if (a == "--image") {
      image_paths.push_back(args.value());
    } else if (a == "--pan-and-scan") {
      opt.images.pan_and_scan = true;
    } else if (a == "--raw") {
      raw = true;
    } else if (a == "-n" || a == "--max-tokens") {
      max_tokens = parse_size(a, args.value());
    } else if (a == "--temp") {
      opt.sampling.temperature = parse_float(a, args.value());
    } else if (a == "--top-k") {
      opt.sampling.top_k = int(parse_size(a, args.value()));
    } else if (a == "--top-p") {
      opt.sampling.top_p = parse_float(a, args.value());
    } else if (a == "--min-p") {
      opt.sampling.min_p = parse_float(a, args.value());
    } else if (a == "--repeat-penalty") {
      opt.sampling.repeat_penalty = parse_float(a, args.value());
    } else if (a == "--greedy") {
      opt.sampling.greedy = true;
    } else if (a == "--seed") {
      opt.sampling.seed = uint64_t(parse_size(a, args.value()));
    } else if (a == "--threads") {
      opt.threads = int(parse_size(a, args.value()));
    } else if (a == "--ctx") {
      ctx = parse_size(a, args.value());
      if (ctx == 0) throw Error("--ctx must be at least 1");
    } else if (a == "--kv") {
      const std::string t = args.value();
      if (t == "f32") opt.kv_type = gemma3::KVType::F32;
      else if (t == "bf16") opt.kv_type = gemma3::KVType::BF16;
      else throw Error("--kv: expected f32 or bf16, got \"" + t + "\"");
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else {
      usage();
      throw Error("unknown argument \"" + a + "\"");
    }
  }
  if (model_path.empty()) {
    usage();
    throw Error("-m MODEL is required");
  }
  if (raw && !have_prompt) throw Error("--raw needs -p PROMPT");
  if (raw && !system.empty()) throw Error("--system does not apply to --raw text");
  if (raw && !image_paths.empty()) throw Error("--image needs chat mode (not --raw)");
  if (max_tokens == 0) throw Error("-n must be at least 1");

  const gemma3::Model model(model_path);
  const size_t max_ctx = size_t(model.config().text.max_position_embeddings);
  if (ctx > max_ctx)
    throw Error("--ctx " + std::to_string(ctx) + " exceeds the model's maximum context of " +
                std::to_string(max_ctx) + " tokens");
  opt.context = ctx ? ctx : std::min<size_t>(8192, max_ctx);
  if (!image_paths.empty() && !model.has_vision())
    throw Error(model_path +
                ": this model has no vision tower (text-only); --image cannot be used");
  gemma3::Session session(model, opt);
  if (!system.empty()) session.set_system(system);
  std::vector<gemma3::ChatPart> images;  // attached to the next user turn
  for (const std::string& p : image_paths) images.push_back(gemma3::ChatPart::make_image_file(p));

  auto print = [](const std::string& text, int) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  };

  if (have_prompt) {
    if (raw) {
      std::vector<int> ids{model.config().tokens.bos};
      const auto enc = model.tokenizer().encode(prompt);
      ids.insert(ids.end(), enc.begin(), enc.end());
      session.generate(ids, print, max_tokens);
    } else {
      session.chat(turn_parts(images, prompt, quiet), print, max_tokens);
    }
    std::printf("\n");
    std::fflush(stdout);  // the reply's end before the figures on stderr
    if (!quiet) print_stats(session.timings());
    return 0;
  }

  // Interactive chat: one user turn per line.
  const bool tty = isatty(0) != 0;
  if (tty)
    std::fprintf(stderr,
                 "Chat with the model; \"/image PATH\" attaches an image to the next turn, "
                 "an empty line is skipped, Ctrl-D ends.\n");
  std::string line;
  for (;;) {
    if (tty) std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line)) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (line.rfind("/image", 0) == 0 && (line.size() == 6 || line[6] == ' ' || line[6] == '\t')) {
      // Loaded now, so a mistyped path is reported at once and the chat goes on.
      std::string path = line.substr(6);
      path.erase(0, path.find_first_not_of(" \t"));
      path.erase(path.find_last_not_of(" \t\r") + 1);
      try {
        if (path.empty()) throw Error("/image needs a file path");
        if (!model.has_vision())
          throw Error("this model has no vision tower (text-only); it cannot take images");
        images.push_back(
            gemma3::ChatPart::make_image_pixels(gemma3::load_image(path, opt.images.limits)));
        if (tty) std::fprintf(stderr, "[image %s attached to the next turn]\n", path.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
      }
      continue;
    }
    session.chat(turn_parts(images, line, quiet), print, max_tokens);
    std::printf("\n");
    std::fflush(stdout);
    if (!quiet) print_stats(session.timings());
  }
  if (tty) std::fprintf(stderr, "\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gemma3::tools::run_main(run, argc, argv); }
