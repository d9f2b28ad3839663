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
// A Session owns a KV cache, so each turn only runs the new tokens. Text is
// streamed UTF-8-safe (bytes of an incomplete character are held back).
// Generation stops on the model's stop ids (config: <eos>, <end_of_turn>),
// at max_new_tokens, or when the callback returns false.
//
// Thread-safety: a Session is single-threaded (one call at a time); several
// Sessions may share one Model from different threads. Kernels inside a call
// use SessionOptions::threads OpenMP threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "gemma3/chat.hpp"
#include "gemma3/decoder.hpp"
#include "gemma3/error.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/model.hpp"
#include "gemma3/sampler.hpp"
#include "gemma3/tokenizer.hpp"

namespace gemma3 {

struct SessionOptions {
  size_t context = 8192;          // positions the KV cache holds; 0 = the model's maximum
  KVType kv_type = KVType::BF16;  // BF16 halves the cache (docs/decoder.md); F32 = exact
  int threads = 0;                // 0 = all cores (OMP_NUM_THREADS)
  size_t prefill_chunk = 256;     // prompt tokens per forward call (image spans are never split)
  SamplingOptions sampling;       // defaults = the release generation config
};

// Figures of the last chat()/generate() call.
struct Timings {
  size_t prompt_tokens = 0;      // tokens prefilled (the new turn, plus a held-back token)
  size_t generated_tokens = 0;   // tokens sampled (stop token excluded)
  double prefill_seconds = 0;    // feeding the prompt
  double decode_seconds = 0;     // every forward of a generated token
  double time_to_first_token = 0;  // call start → first token sampled
  double prefill_tokens_per_second() const {
    return prefill_seconds > 0 ? double(prompt_tokens) / prefill_seconds : 0;
  }
  double decode_tokens_per_second() const {
    return decode_seconds > 0 ? double(decode_steps) / decode_seconds : 0;
  }
  size_t decode_steps = 0;       // forwards of generated tokens
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
               opt.context ? opt.context : size_t(model.config().text.max_position_embeddings),
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

  // One user turn made of parts. Image parts are not supported yet.
  GenerateResult chat(const std::vector<ChatPart>& parts, const TokenCallback& on_text = {},
                      size_t max_new_tokens = 2048) {
    for (const ChatPart& p : parts)
      if (p.kind == ChatPart::Kind::Image)
        throw Error("session: images in chat turns are not supported yet (vision not wired in)");
    if (raw_) throw Error("session: raw tokens were fed; reset() before chatting");
    const TokenIds& t = model_->config().tokens;
    std::vector<int> ids;
    if (turns_ == 0) {
      std::vector<ChatMessage> msgs;
      if (!system_.empty()) msgs.emplace_back("system", system_);
      msgs.emplace_back("user", parts);
      ids = tokenize_chat(model_->tokenizer(), msgs, true, ChatFormat::from_config(model_->config()),
                          false);
    } else {
      // Continue the conversation: close the model's turn as the template
      // would ("<end_of_turn>\n"), then the new user turn and the generation
      // prompt. A sampled token not yet in the cache (the reply was cut by
      // the budget or the callback) goes first; a stop token is replaced by
      // <end_of_turn>.
      if (pending_ >= 0 && !is_stop(pending_)) ids.push_back(pending_);
      ids.push_back(t.end_of_turn);
      std::string text = "\n";
      for (const auto& s : detail::render_chat_segments({ChatMessage("user", parts)}, true))
        text += s.text;
      const auto enc = model_->tokenizer().encode(text);
      ids.insert(ids.end(), enc.begin(), enc.end());
    }
    GenerateResult r = run(ids, {}, on_text, max_new_tokens);
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
    std::vector<int> all;
    if (pending_ >= 0) all.push_back(pending_);
    all.insert(all.end(), ids.begin(), ids.end());
    return run(all, {}, on_text, max_new_tokens);
  }

  // Feeds ids (and image embeddings: spans index into ids) without sampling;
  // returns the logits after the last one (model vocab_size floats). A token
  // sampled but not yet fed by the previous call is fed first.
  const std::vector<float>& prefill(const std::vector<int>& ids,
                                    const std::vector<ImageSpan>& images = {}) {
    if (turns_ == 0) raw_ = true;
    std::vector<int> all;
    std::vector<ImageSpan> spans = images;
    if (pending_ >= 0) {
      all.push_back(pending_);
      for (ImageSpan& sp : spans) sp.start += 1;
    }
    all.insert(all.end(), ids.begin(), ids.end());
    feed(all, spans);
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
  size_t position() const { return cache_.length(); }        // tokens in the cache
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

  // Prefill ids in chunks of ≤ prefill_chunk tokens; an image span is never
  // split (a chunk ends before it, or holds all of it).
  void feed(const std::vector<int>& ids, const std::vector<ImageSpan>& images) {
    cache_.check_fits(ids.size());
    const Decoder& dec = model_->decoder();
    // All ids checked before any chunk runs: a refused prompt leaves no trace in the cache.
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || size_t(ids[i]) >= dec.vocab_rows())
        throw Error("session: token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                    " is outside the vocabulary [0, " + std::to_string(dec.vocab_rows()) + ")");
    size_t pos = 0;
    while (pos < ids.size()) {
      size_t end = std::min(ids.size(), pos + opt_.prefill_chunk);
      for (const ImageSpan& s : images) {
        if (s.count == 0 || !(s.start < end && end < s.start + s.count)) continue;
        end = s.start > pos ? s.start : s.start + s.count;  // before the span, or all of it
      }
      std::vector<ImageSpan> local;
      for (const ImageSpan& s : images)
        if (s.count && s.start >= pos && s.start + s.count <= end)
          local.push_back({s.start - pos, s.count, s.embeddings});
      dec.forward(cache_, ids.data() + pos, end - pos, local, logits_.data(), false, buf_,
                  threads_);
      history_.insert(history_.end(), ids.begin() + std::ptrdiff_t(pos),
                      ids.begin() + std::ptrdiff_t(end));
      pos = end;
    }
  }

  GenerateResult run(const std::vector<int>& ids, const std::vector<ImageSpan>& images,
                     const TokenCallback& on_text, size_t max_new_tokens) {
    GenerateResult res;
    timings_ = Timings();
    const auto t0 = Clock::now();
    if (ids.empty() && history_.empty()) throw Error("session: nothing to generate from");
    if (!ids.empty()) {
      if (ids.size() > cache_.remaining())
        throw Error("context overflow: the prompt needs " + std::to_string(ids.size()) +
                    " positions but only " + std::to_string(cache_.remaining()) + " of " +
                    std::to_string(cache_.context()) +
                    " are left (reset the session or raise the context length)");
      feed(ids, images);
      pending_ = -1;  // it was the first of ids
    }
    const auto t1 = Clock::now();
    timings_.prompt_tokens = ids.size();
    timings_.prefill_seconds = seconds(t0, t1);

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
  int pending_ = -1;          // sampled, streamed, not yet in the cache
  size_t turns_ = 0;
  bool raw_ = false;
};

}  // namespace gemma3
