// gemma3-dump — the reference outputs of this implementation, for checking
// another backend against it (format: docs/decoder.md).
//
//   gemma3-dump -m MODEL --ids 2,105,... [--image FILE]... [--logits OUT.npy] [--hidden OUT.npy]
//               [--pixels OUT.npy] [--image-embeddings OUT.npy]
//               [--generate N] [--threads N] [--chunk N]
//
//   --logits    f32 logits of every position, [tokens, vocab_size] (.npy)
//   --hidden    the residual stream, [layers + 1, tokens, hidden] (.npy):
//               index 0 = scaled embeddings, index i = output of layer i − 1
//               (before the final norm)
//   --generate  prints N greedy continuation ids on one line, space-separated:
//               plain argmax over ALL logits (lowest id on ties), no id
//               excluded, no stop token — the reference loop
//   --image     an image for the next image-token block of --ids (a maximal run
//               of the config's image token id), in order; one per block
//   --pixels    the preprocessed images, [images, 3, size, size] (.npy)
//   --image-embeddings  the projected image embeddings, [images, mm_tokens, hidden]
// The KV cache is f32, so the numbers are those of exact f32 arithmetic.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "gemma3/decoder.hpp"
#include "gemma3/convert/npy.hpp"
#include "gemma3/image.hpp"
#include "gemma3/model.hpp"
#include "gemma3/prefill.hpp"
#include "tools/common/args.hpp"

namespace {

using gemma3::tools::parse_size;

using gemma3::Error;

void usage() {
  std::fprintf(
      stderr,
      "usage: gemma3-dump -m MODEL --ids ID,ID,... [--image FILE]... [--logits OUT.npy]\n"
      "                   [--hidden OUT.npy] [--pixels OUT.npy] [--image-embeddings OUT.npy]\n"
      "                   [--generate N] [--threads N] [--chunk N]\n"
      "  --ids       the prompt token ids, comma-separated (include BOS yourself)\n"
      "  --image     image for the next image-token block of --ids (a run of the config's\n"
      "              image token id), repeatable, in order; one image per block\n"
      "  --pixels    write the preprocessed images [images, 3, size, size] as .npy\n"
      "  --image-embeddings  write the projected image embeddings [images, mm_tokens, hidden]\n"
      "  --logits    write f32 logits of every position [tokens, vocab] as .npy\n"
      "  --hidden    write the residual stream [layers+1, tokens, hidden] as .npy\n"
      "              (0 = scaled embeddings, i = output of layer i-1, before final norm)\n"
      "  --generate  print N greedy continuation ids (argmax over all logits, no stop)\n"
      "  --threads   threads (default: all cores)\n"
      "  --chunk     prompt tokens per forward call (default 256; results do not depend on it)\n");
}

std::vector<int> parse_ids(const std::string& s) {
  std::vector<int> ids;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string t = s.substr(i, j - i);
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 9)
      throw Error("--ids: \"" + t + "\" is not a token id (expected e.g. 2,105,2364)");
    ids.push_back(std::stoi(t));
    i = j + 1;
  }
  return ids;
}

int run(int argc, char** argv) {
  std::string model_path, logits_path, hidden_path, pixels_path, embeddings_path;
  std::vector<std::string> image_paths;
  std::vector<int> ids;
  bool have_ids = false;
  size_t generate = 0, chunk = 256;
  int threads = 0;
  gemma3::tools::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.flag();
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (a == "-m" || a == "--model") {
      model_path = args.value();
    } else if (a == "--ids") {
      ids = parse_ids(args.value());
      have_ids = true;
    } else if (a == "--logits") {
      logits_path = args.value();
    } else if (a == "--hidden") {
      hidden_path = args.value();
    } else if (a == "--image") {
      image_paths.push_back(args.value());
    } else if (a == "--pixels") {
      pixels_path = args.value();
    } else if (a == "--image-embeddings") {
      embeddings_path = args.value();
    } else if (a == "--generate") {
      generate = parse_size(a, args.value());
    } else if (a == "--threads") {
      threads = int(parse_size(a, args.value()));
    } else if (a == "--chunk") {
      chunk = parse_size(a, args.value());
      if (chunk == 0) throw Error("--chunk must be at least 1");
    } else {
      usage();
      throw Error("unknown argument \"" + a + "\"");
    }
  }
  if (model_path.empty()) throw Error("-m MODEL is required (see --help)");
  if (!have_ids) throw Error("--ids is required (see --help)");
  if (logits_path.empty() && hidden_path.empty() && generate == 0 && pixels_path.empty() &&
      embeddings_path.empty())
    throw Error(
        "nothing to do: give --logits, --hidden, --pixels, --image-embeddings and/or --generate");

  const gemma3::Model model(model_path);
  const gemma3::Decoder& dec = model.decoder();
  const gemma3::TextConfig& c = model.config().text;
  const size_t n = ids.size(), V = dec.vocab_rows(), H = size_t(c.hidden_size);
  const size_t L = size_t(c.num_hidden_layers);
  const size_t context = n + (generate > 0 ? generate - 1 : 0);
  if (context > size_t(c.max_position_embeddings))
    throw Error("--ids and --generate need " + std::to_string(context) +
                " positions; the model allows " + std::to_string(c.max_position_embeddings));
  const gemma3::ops::ThreadContext tc =
      threads > 0 ? gemma3::ops::ThreadContext(threads) : gemma3::ops::ThreadContext();

  // Images: one per image-token block of --ids, in order (spec §4.6).
  const auto blocks = gemma3::image_token_blocks(ids, model.config().tokens.image);
  if (blocks.size() != image_paths.size())
    throw Error("--ids has " + std::to_string(blocks.size()) +
                " image block(s) (runs of image token id " +
                std::to_string(model.config().tokens.image) + ") but " +
                std::to_string(image_paths.size()) + " --image file(s) were given");
  if ((!pixels_path.empty() || !embeddings_path.empty()) && image_paths.empty())
    throw Error("--pixels and --image-embeddings need --image");
  const size_t T = size_t(model.config().mm_tokens_per_image);
  const size_t S = size_t(model.config().vision.image_size);
  std::vector<float> pixels;
  gemma3::EncodedImages images;  // what Session does with a turn's images (gemma3/prefill.hpp)
  if (!image_paths.empty()) {
    if (!model.has_vision())
      throw Error(model_path +
                  ": this model has no vision tower (text-only); --image cannot be used");
    gemma3::check_image_blocks(model.config(), ids, image_paths.size(), "--ids");  // before loading
    // The release preprocessing: one [3, S, S] image each, no pan-and-scan.
    gemma3::PreprocessConfig pc = model.config().preprocess;
    pc.do_pan_and_scan = false;
    const size_t per = 3 * S * S;
    pixels.resize(image_paths.size() * per);
    std::vector<const float*> per_block;
    for (size_t i = 0; i < image_paths.size(); ++i) {
      const gemma3::PixelValues pv =
          gemma3::preprocess_image(gemma3::load_image(image_paths[i]), pc, int(S));
      std::copy(pv.image(0), pv.image(0) + per, pixels.begin() + std::ptrdiff_t(i * per));
      per_block.push_back(&pixels[i * per]);
    }
    images = gemma3::encode_image_blocks(model, ids, per_block, tc, "--ids");
  }
  if (!pixels_path.empty())
    gemma3::convert::write_npy_f32(pixels_path, pixels.data(), {image_paths.size(), 3, S, S});
  if (!embeddings_path.empty())
    gemma3::convert::write_npy_f32(embeddings_path, images.embeddings.data(),
                                   {image_paths.size(), T, H});
  if (logits_path.empty() && hidden_path.empty() && generate == 0) return 0;

  gemma3::KVCache cache(c, context, gemma3::KVType::F32);
  gemma3::ForwardBuffers buf;

  const bool want_all = !logits_path.empty();
  std::vector<float> logits(want_all ? n * V : V);
  std::vector<float> hidden(hidden_path.empty() ? 0 : (L + 1) * n * H);
  size_t pos = 0, next = 0;  // first row of the current chunk, of the next one
  gemma3::ForwardObserver obs = [&](const std::string& name, int layer, const float* data,
                                    const std::vector<size_t>& shape) {
    size_t slot;
    if (name == "embed") {  // the first intermediate of each chunk
      pos = next;
      next += shape[0];
      slot = 0;
    } else if (name == "layer_output") {
      slot = size_t(layer) + 1;
    } else {
      return;
    }
    std::copy(data, data + shape[0] * H, hidden.begin() + std::ptrdiff_t((slot * n + pos) * H));
  };
  // Chunks of --chunk tokens, but an image block is never split (spec §5.3);
  // attention probabilities are not observed (they grow with the context).
  gemma3::prefill(dec, cache, ids.data(), n, images.spans, chunk, logits.data(), want_all, buf, tc,
                  hidden.empty() ? nullptr : &obs, false);
  if (!logits_path.empty()) gemma3::convert::write_npy_f32(logits_path, logits.data(), {n, V});
  if (!hidden_path.empty())
    gemma3::convert::write_npy_f32(hidden_path, hidden.data(), {L + 1, n, H});

  if (generate > 0) {
    std::vector<float> step(V);
    const float* last = want_all ? logits.data() + (n - 1) * V : logits.data();
    std::copy(last, last + V, step.begin());
    std::string line;
    for (size_t s = 0; s < generate; ++s) {
      int best = 0;  // argmax over all logits; the first (lowest id) on ties
      for (size_t i = 1; i < V; ++i)
        if (step[i] > step[size_t(best)]) best = int(i);
      line += (s ? " " : "") + std::to_string(best);
      if (s + 1 < generate) dec.forward(cache, &best, 1, {}, step.data(), false, buf, tc);
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gemma3::tools::run_main(run, argc, argv); }
