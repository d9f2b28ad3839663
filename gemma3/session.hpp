// gemma3/session.hpp — the public C++ API: a conversation with a model.
//
//   #include "gemma3/session.hpp"
//   gemma3::Model model("gemma-3-4b-it.g3");
//   gemma3::Session chat(model);                       // SessionOptions: context, sampling, …
//   chat.chat("Why is the sky blue?", [](const std::string& text, int) {
//     std::cout << text << std::flush;
//     return true;                                      // false stops generation
//   });
//   std::cout << "\n" << chat.timings().decode_tokens_per_second() << " tokens/s\n";
//   chat.chat("And at sunset?", on_text);               // continues; earlier turns are not re-run
//
//   // Images: parts of a user turn, in order (a file, encoded bytes or an Image).
//   chat.chat({gemma3::ChatPart::make_image_file("cat.jpg"),
//              gemma3::ChatPart::make_text("What is in this picture?")}, on_text);
//
// Each image is loaded (SessionOptions::images limits), preprocessed, encoded
// by the vision tower and its soft tokens inserted at its image-token block
// (spec §4.6), which attends to itself bidirectionally (spec §5.3). The
// encoder's scratch (≈ 0.12 GB at 4B shapes) exists only while a turn's images
// are encoded.
//
// A Session owns a KV cache, so each turn only runs the new tokens. Text is
// streamed UTF-8-safe (bytes of an incomplete character are held back).
// Generation stops on the model's stop ids (config: <eos>, <end_of_turn>),
// at max_new_tokens, or when the callback returns false.
//
// Thread-safety: a Session is single-threaded (one call at a time); several
// Sessions may share one Model from different threads. Kernels inside a call
// use SessionOptions::threads OpenMP threads.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "gemma3/chat.hpp"
#include "gemma3/decoder.hpp"
#include "gemma3/error.hpp"
#include "gemma3/image.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/model.hpp"
#include "gemma3/prefill.hpp"
#include "gemma3/sampler.hpp"
#include "gemma3/tokenizer.hpp"

namespace gemma3 {

// How a Session turns image parts into pixels.
struct ImageOptions {
  ImageLoadOptions limits;  // file size / side / pixel limits, checked before decoding
  // spec §4.2: also encode crops of wide or tall images (HF do_pan_and_scan;
  // off in the release). Each crop costs one more image block of
  // mm_tokens_per_image positions and one more vision-tower run.
  bool pan_and_scan = false;
  // Pan-and-scan settings; 0 = the model's preprocessor_config.json values
  // (256, 4, 1.2 for the release).
  int pan_and_scan_min_crop_size = 0;
  int pan_and_scan_max_num_crops = 0;
  double pan_and_scan_min_ratio_to_activate = 0;
};

struct SessionOptions {
  size_t context = 0;  // positions the KV cache holds; 0 = min(8192, the model's maximum)
  KVType kv_type = KVType::BF16;  // BF16 halves the cache (docs/decoder.md); F32 = exact
  int threads = 0;                // 0 = all cores (OMP_NUM_THREADS)
  size_t prefill_chunk = 256;     // prompt tokens per forward call (image spans are never split)
  SamplingOptions sampling;       // defaults = the release generation config
  ImageOptions images;            // image parts of chat turns
};

// Figures of the last chat()/generate() call.
struct Timings {
  size_t prompt_tokens = 0;         // tokens prefilled (the new turn, plus a held-back token)
  size_t generated_tokens = 0;      // tokens sampled (stop token excluded)
  size_t images = 0;                // images encoded (pan-and-scan crops included)
  double image_load_seconds = 0;    // decoding + preprocessing them
  double image_encode_seconds = 0;  // vision tower + projector
  double prefill_seconds = 0;       // feeding the prompt (image encoding not included)
  double decode_seconds = 0;        // every forward of a generated token
  double time_to_first_token = 0;   // call start → first token sampled (images included)
  double prefill_tokens_per_second() const {
    return prefill_seconds > 0 ? double(prompt_tokens) / prefill_seconds : 0;
  }
  double decode_tokens_per_second() const {
    return decode_seconds > 0 ? double(decode_steps) / decode_seconds : 0;
  }
  size_t decode_steps = 0;  // forwards of generated tokens
};

enum class StopReason { StopToken, MaxTokens, Callback };

struct GenerateResult {
  std::string text;         // the generated text (stop token not included)
  std::vector<int> tokens;  // the generated ids (stop token not included)
  StopReason reason = StopReason::StopToken;
};

// Streaming: called with each piece of text as it becomes complete UTF-8 and
// the id that produced it (−1 for a final flush of held-back bytes). Return
// false to stop generating.
using TokenCallback = std::function<bool(const std::string& text, int token)>;

class Session {
 public:
  explicit Session(const Model& model, const SessionOptions& opt = {})
      : model_(&model),
        opt_(opt),
        cache_(model.config().text,
               opt.context
                   ? opt.context
                   : std::min<size_t>(8192, size_t(model.config().text.max_position_embeddings)),
               opt.kv_type),
        sampler_(opt.sampling, model.sample_vocab(), model.never_sample()),
        threads_(opt.threads > 0 ? ops::ThreadContext(opt.threads) : ops::ThreadContext()) {
    if (opt.prefill_chunk == 0) throw Error("session: prefill_chunk must be at least 1");
    logits_.resize(model.decoder().vocab_rows());
  }

  // ---- chat ----------------------------------------------------------------

  // Sets the system prompt; only before the first turn (the Gemma template
  // folds it into the first user turn, spec §6).
  void set_system(const std::string& text) {
    if (turns_ > 0) throw Error("session: the system prompt must be set before the first turn");
    system_ = text;
  }

  // One user turn (text) → the model's reply.
  GenerateResult chat(const std::string& user_text, const TokenCallback& on_text = {},
                      size_t max_new_tokens = 2048) {
    return chat(std::vector<ChatPart>{ChatPart::make_text(user_text)}, on_text, max_new_tokens);
  }

  // One user turn made of parts: text and images, in order. Images are loaded
  // and encoded before anything is fed, so a bad image (a clear Error naming
  // it) leaves the conversation as it was.
  GenerateResult chat(const std::vector<ChatPart>& parts, const TokenCallback& on_text = {},
                      size_t max_new_tokens = 2048) {
    if (raw_) throw Error("session: raw tokens were fed; reset() before chatting");
    const auto t0 = Clock::now();
    TurnImages images = load_images(parts);
    const auto t1 = Clock::now();
    const TokenIds& t = model_->config().tokens;
    const ChatFormat fmt = ChatFormat::from_config(model_->config());
    std::vector<int> ids;
    if (turns_ == 0) {
      std::vector<ChatMessage> msgs;
      if (!system_.empty()) msgs.emplace_back("system", system_);
      msgs.emplace_back("user", images.parts);
      ids = tokenize_chat(model_->tokenizer(), msgs, true, fmt);
    } else {
      // Continue the conversation: close the model's turn as the template
      // would ("<end_of_turn>\n"), then the new user turn and the generation
      // prompt. A sampled token not yet in the cache (the reply was cut by
      // the budget or the callback) goes first; a stop token is replaced by
      // <end_of_turn>.
      ids = with_pending({t.end_of_turn}, /*feed_stop=*/false);
      detail::encode_segments(
          model_->tokenizer(),
          detail::render_chat_segments({ChatMessage("user", images.parts)}, true), fmt, true, "\n",
          ids);
    }
    check_room(ids.size());  // before the (costly) encoding
    double encode_seconds = 0;
    const EncodedImages enc = encode_images(ids, images, encode_seconds);
    GenerateResult r = run(ids, enc.spans, on_text, max_new_tokens, t0);
    set_image_timings(images, encode_seconds, t0, t1);
    ++turns_;
    return r;
  }

  // ---- raw tokens ----------------------------------------------------------

  // Appends ids (no template; include BOS yourself) and generates. A token
  // sampled but not yet fed by the previous call is fed first.
  GenerateResult generate(const std::vector<int>& ids, const TokenCallback& on_text = {},
                          size_t max_new_tokens = 2048) {
    if (turns_ > 0) throw Error("session: a chat is in progress; reset() before raw generation");
    raw_ = true;
    return run(with_pending(ids), {}, on_text, max_new_tokens, Clock::now());
  }

  // The same with images: the image-token blocks of ids (maximal runs of the
  // config's image token id) are filled, in order, with `images` (image parts:
  // a file, encoded bytes or pixels) — what gemma3-dump --image does. With
  // pan-and-scan, image k takes 1 + its crops consecutive blocks.
  GenerateResult generate_with_images(const std::vector<int>& ids,
                                      const std::vector<ChatPart>& images,
                                      const TokenCallback& on_text = {},
                                      size_t max_new_tokens = 2048) {
    if (turns_ > 0) throw Error("session: a chat is in progress; reset() before raw generation");
    const auto t0 = Clock::now();
    const TurnImages loaded = load_images(only_images(images));
    const auto t1 = Clock::now();
    const std::vector<int> all = with_pending(ids);
    check_room(all.size());
    double encode_seconds = 0;
    const EncodedImages enc = encode_images(all, loaded, encode_seconds);
    raw_ = true;
    GenerateResult r = run(all, enc.spans, on_text, max_new_tokens, t0);
    set_image_timings(loaded, encode_seconds, t0, t1);
    return r;
  }

  // Feeds ids (and image embeddings: spans index into ids) without sampling;
  // returns the logits after the last one (model vocab_size floats). A token
  // sampled but not yet fed by the previous call is fed first.
  const std::vector<float>& prefill(const std::vector<int>& ids,
                                    const std::vector<ImageSpan>& images = {}) {
    if (turns_ == 0) raw_ = true;
    const std::vector<int> all = with_pending(ids);
    std::vector<ImageSpan> spans = images;
    for (ImageSpan& sp : spans) sp.start += all.size() - ids.size();  // past the pending token
    feed(all, spans);
    pending_ = -1;
    return logits_;
  }

  // prefill() with images filling the image-token blocks of ids, in order
  // (as generate_with_images()).
  const std::vector<float>& prefill_with_images(const std::vector<int>& ids,
                                                const std::vector<ChatPart>& images) {
    const TurnImages loaded = load_images(only_images(images));
    const std::vector<int> all = with_pending(ids);
    check_room(all.size());
    double encode_seconds = 0;
    const EncodedImages enc = encode_images(all, loaded, encode_seconds);
    if (turns_ == 0) raw_ = true;
    feed(all, enc.spans);
    pending_ = -1;
    return logits_;
  }

  // Forgets the conversation (the cache is kept allocated).
  void reset() {
    cache_.reset();
    history_.clear();
    pending_ = -1;
    turns_ = 0;
    raw_ = false;
  }

  const Timings& timings() const { return timings_; }
  size_t position() const { return cache_.length(); }  // tokens in the cache
  size_t context() const { return cache_.context(); }
  const std::vector<int>& tokens() const { return history_; }  // ids in the cache, in order
  const Model& model() const { return *model_; }
  const KVCache& cache() const { return cache_; }
  Sampler& sampler() { return sampler_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }

  bool is_stop(int id) const {
    for (int s : model_->config().tokens.stop)
      if (s == id) return true;
    return false;
  }

  // ids preceded by the token sampled but not yet in the cache, if any (the
  // previous reply was cut by the budget or the callback, or ended on a stop
  // token). A chat turn passes feed_stop = false: the template closes the
  // model's turn itself, so a stop token is not fed.
  std::vector<int> with_pending(const std::vector<int>& ids, bool feed_stop = true) const {
    std::vector<int> all;
    if (pending_ >= 0 && (feed_stop || !is_stop(pending_))) all.push_back(pending_);
    all.insert(all.end(), ids.begin(), ids.end());
    return all;
  }

  void check_room(size_t n) const {
    if (n > cache_.remaining())
      throw Error("context overflow: the prompt needs " + std::to_string(n) +
                  " positions but only " + std::to_string(cache_.remaining()) + " of " +
                  std::to_string(cache_.context()) +
                  " are left (reset the session or raise the context length)");
  }

  static const std::vector<ChatPart>& only_images(const std::vector<ChatPart>& parts) {
    for (const ChatPart& p : parts)
      if (p.kind != ChatPart::Kind::Image)
        throw Error("session: images for raw ids must be image parts (a text part was given)");
    return parts;
  }

  // A turn's images: the parts (num_crops filled in) and one pixel array
  // [3, S, S] per image block, in prompt order.
  struct TurnImages {
    std::vector<ChatPart> parts;
    std::vector<PixelValues> storage;
    std::vector<const float*> pixels;
  };

  // Loads and preprocesses every image part (spec §4.1, §4.2).
  TurnImages load_images(const std::vector<ChatPart>& parts) const {
    TurnImages out;
    out.parts = parts;
    const ModelConfig& cfg = model_->config();
    const ImageOptions& io = opt_.images;
    PreprocessConfig pc = cfg.preprocess;
    pc.do_pan_and_scan = io.pan_and_scan;
    if (io.pan_and_scan_min_crop_size > 0)
      pc.pan_and_scan_min_crop_size = io.pan_and_scan_min_crop_size;
    if (io.pan_and_scan_max_num_crops > 0)
      pc.pan_and_scan_max_num_crops = io.pan_and_scan_max_num_crops;
    if (io.pan_and_scan_min_ratio_to_activate > 0)
      pc.pan_and_scan_min_ratio_to_activate = io.pan_and_scan_min_ratio_to_activate;
    size_t k = 0;
    for (ChatPart& p : out.parts) {
      if (p.kind != ChatPart::Kind::Image) continue;
      const std::string which = "session: image " + std::to_string(++k) + " of the turn";
      if (!cfg.has_vision)
        throw Error(which +
                    ": this model has no vision tower (a text-only model); it cannot take images");
      if (!p.has_image_payload())
        throw Error(which + " has no image (give a file path, encoded bytes or a decoded Image)");
      try {
        Image loaded;
        const Image* img = p.image.get();
        if (!img) {
          loaded = p.image_bytes
                       ? load_image_from_memory(p.image_bytes->data(), p.image_bytes->size(),
                                                "<memory>", io.limits)
                       : load_image(p.image_path, io.limits);
          img = &loaded;
        }
        out.storage.push_back(preprocess_image(*img, pc, cfg.vision.image_size));
      } catch (const Error& e) {
        throw Error(which + ": " + e.what());
      }
      p.num_crops = out.storage.back().num_crops;
    }
    for (const PixelValues& pv : out.storage)
      for (int i = 0; i < pv.count; ++i) out.pixels.push_back(pv.image(i));
    return out;
  }

  // Encodes images.pixels (spec §4.3–4.5) for the image blocks of ids, which
  // must match them one to one (prefill.hpp); seconds_taken: how long it took.
  EncodedImages encode_images(const std::vector<int>& ids, const TurnImages& images,
                              double& seconds_taken) const {
    const auto t0 = Clock::now();
    EncodedImages enc = encode_image_blocks(*model_, ids, images.pixels, threads_, "session");
    seconds_taken = seconds(t0, Clock::now());
    return enc;
  }

  void set_image_timings(const TurnImages& images, double encode_seconds, Clock::time_point t0,
                         Clock::time_point t1) {
    timings_.images = images.pixels.size();
    timings_.image_load_seconds = images.pixels.empty() ? 0.0 : seconds(t0, t1);
    timings_.image_encode_seconds = images.pixels.empty() ? 0.0 : encode_seconds;
  }

  // Prefill ids in chunks of ≤ prefill_chunk tokens; an image span is never
  // split (gemma3::prefill, prefill.hpp).
  void feed(const std::vector<int>& ids, const std::vector<ImageSpan>& images) {
    cache_.check_fits(ids.size());
    const Decoder& dec = model_->decoder();
    // All ids checked before any chunk runs: a refused prompt leaves no trace in the cache.
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || size_t(ids[i]) >= dec.vocab_rows())
        throw Error("session: token id " + std::to_string(ids[i]) + " at position " +
                    std::to_string(i) + " is outside the vocabulary [0, " +
                    std::to_string(dec.vocab_rows()) + ")");
    // history_ holds exactly the ids the cache took, even if a chunk throws.
    const size_t before = cache_.length();
    auto record = [&] {
      history_.insert(history_.end(), ids.begin(),
                      ids.begin() + std::ptrdiff_t(cache_.length() - before));
    };
    try {
      gemma3::prefill(dec, cache_, ids.data(), ids.size(), images, opt_.prefill_chunk,
                      logits_.data(), false, buf_, threads_);
    } catch (...) {
      record();
      throw;
    }
    record();
  }

  // Feeds ids (t0: when the call started) and samples until a stop.
  GenerateResult run(const std::vector<int>& ids, const std::vector<ImageSpan>& images,
                     const TokenCallback& on_text, size_t max_new_tokens, Clock::time_point t0) {
    GenerateResult res;
    timings_ = Timings();
    if (ids.empty() && history_.empty()) throw Error("session: nothing to generate from");
    const auto tp = Clock::now();
    if (!ids.empty()) {
      check_room(ids.size());
      feed(ids, images);
      pending_ = -1;  // it was the first of ids
    }
    const auto t1 = Clock::now();
    timings_.prompt_tokens = ids.size();
    timings_.prefill_seconds = seconds(tp, t1);

    StreamDecoder stream(model_->tokenizer());
    auto emit = [&](const std::string& text, int id) {
      res.text += text;
      return !on_text || text.empty() ? true : on_text(text, id);
    };
    double decode = 0;
    for (;;) {
      const int id = sampler_.sample(logits_.data(), logits_.size(), history_);
      if (res.tokens.empty()) timings_.time_to_first_token = seconds(t0, Clock::now());
      if (is_stop(id)) {
        pending_ = id;
        res.reason = StopReason::StopToken;
        break;
      }
      res.tokens.push_back(id);
      const bool go_on = emit(stream.push(id), id);
      if (!go_on || res.tokens.size() >= max_new_tokens) {
        pending_ = id;  // fed at the start of the next call
        res.reason = go_on ? StopReason::MaxTokens : StopReason::Callback;
        break;
      }
      if (cache_.remaining() == 0) {
        pending_ = id;
        throw Error("context overflow: the context of " + std::to_string(cache_.context()) +
                    " positions is full after " + std::to_string(res.tokens.size()) +
                    " generated tokens (reset the session or raise the context length)");
      }
      const auto s0 = Clock::now();
      model_->decoder().forward(cache_, &id, 1, {}, logits_.data(), false, buf_, threads_);
      history_.push_back(id);
      decode += seconds(s0, Clock::now());
      timings_.decode_steps++;
    }
    const std::string tail = stream.flush();
    if (!tail.empty()) emit(tail, -1);
    timings_.generated_tokens = res.tokens.size();
    timings_.decode_seconds = decode;
    return res;
  }

  const Model* model_;
  SessionOptions opt_;
  KVCache cache_;
  Sampler sampler_;
  ops::ThreadContext threads_;
  ForwardBuffers buf_;
  Timings timings_;
  std::vector<float> logits_;
  std::vector<int> history_;  // ids in the cache
  std::string system_;
  int pending_ = -1;  // sampled, streamed, not yet in the cache
  size_t turns_ = 0;
  bool raw_ = false;
};

}  // namespace gemma3
