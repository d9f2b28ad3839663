// gemma3/prefill.hpp — feeding a prompt the way the library does it: the
// image-token blocks of the prompt filled with vision-tower embeddings
// (spec §4.6), then the ids run through the decoder in chunks that never
// split an image block (spec §5.3).
//
// Session and gemma3-dump both call these functions, so the reference dump
// runs exactly the code an embedder gets.
//
//   const EncodedImages img = encode_image_blocks(model, ids, pixels, tc);  // one image per block
//   prefill(model.decoder(), cache, ids.data(), ids.size(), img.spans, 256, logits, false, buf,
//   tc);
//
// Layering: the session layer, above the model core (decoder, vision, KV
// cache), which never includes it (cmake/check_layers.cmake).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "gemma3/attention.hpp"
#include "gemma3/config.hpp"
#include "gemma3/decoder.hpp"
#include "gemma3/error.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/model.hpp"
#include "gemma3/ops/threading.hpp"
#include "gemma3/vision.hpp"

namespace gemma3 {

// The image blocks of a prompt: every maximal run of `image_id` (spec §5.3,
// HF token_type_ids), in order. (Adjacent runs would merge into one; the
// chat format puts <end_of_image> … <start_of_image> between two images.)
inline std::vector<ImageBlock> image_token_blocks(const std::vector<int>& ids, int image_id) {
  std::vector<int> types(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) types[i] = ids[i] == image_id ? 1 : 0;
  return image_blocks_from_token_types(types);
}

// image_token_blocks() of ids, checked against the model: `images` blocks of
// mm_tokens_per_image ids each (spec §4.6). Errors start with `who`. Cheap:
// call it before loading images to fail early.
inline std::vector<ImageBlock> check_image_blocks(const ModelConfig& cfg,
                                                  const std::vector<int>& ids, size_t images,
                                                  const std::string& who = "prefill") {
  const auto blocks = image_token_blocks(ids, cfg.tokens.image);
  if (blocks.size() != images)
    throw Error(who + ": the prompt has " + std::to_string(blocks.size()) +
                " image blocks (runs of image token id " + std::to_string(cfg.tokens.image) +
                ") for " + std::to_string(images) + " images");
  const size_t T = size_t(cfg.mm_tokens_per_image);
  for (size_t i = 0; i < blocks.size(); ++i)
    if (blocks[i].count != T)
      throw Error(who + ": image block " + std::to_string(i) + " at position " +
                  std::to_string(blocks[i].start) + " has " + std::to_string(blocks[i].count) +
                  " image tokens; the model takes " + std::to_string(T) + " per image");
  return blocks;
}

// The vision tower's output for a prompt's image blocks. spans point into
// embeddings, so it can be moved but not copied (a copy's spans would point
// into the original).
struct EncodedImages {
  std::vector<float> embeddings;  // [blocks, mm_tokens_per_image, hidden_size]
  std::vector<ImageSpan> spans;   // one per block, in prompt order

  EncodedImages() = default;
  EncodedImages(EncodedImages&&) = default;
  EncodedImages& operator=(EncodedImages&&) = default;
  EncodedImages(const EncodedImages&) = delete;
  EncodedImages& operator=(const EncodedImages&) = delete;
};

// Encodes pixels[i] ([3, S, S], preprocess_image's output) for image block i
// of ids (check_image_blocks: one image per block; errors start with `who`),
// spec §4.3–4.5. The encoder's scratch exists only during the call; a prompt
// without image blocks builds no encoder (a text-only model takes it).
inline EncodedImages encode_image_blocks(const Model& model, const std::vector<int>& ids,
                                         const std::vector<const float*>& pixels,
                                         const ops::ThreadContext& tc,
                                         const std::string& who = "prefill") {
  const ModelConfig& cfg = model.config();
  const auto blocks = check_image_blocks(cfg, ids, pixels.size(), who);
  EncodedImages out;
  if (blocks.empty()) return out;
  const size_t T = size_t(cfg.mm_tokens_per_image), H = size_t(cfg.text.hidden_size);
  out.embeddings.resize(blocks.size() * T * H);
  VisionEncoder enc(cfg, model.weights());
  for (size_t i = 0; i < blocks.size(); ++i) {
    enc.encode(pixels[i], out.embeddings.data() + i * T * H, tc);
    out.spans.push_back({blocks[i].start, T, out.embeddings.data() + i * T * H});
  }
  return out;
}

// Prefill chunking: the end of the chunk that starts at `pos` of n tokens,
// at most `chunk` long, unless an image span would be split: then the chunk
// ends before the span, or (a span longer than the chunk, or starting at
// pos) holds all of it (spec §5.3). `spans` are sorted and disjoint.
inline size_t prefill_chunk_end(size_t pos, size_t n, size_t chunk,
                                const std::vector<ImageSpan>& spans) {
  size_t end = std::min(n, pos + chunk);
  for (const ImageSpan& s : spans) {
    if (s.count == 0 || !(s.start < end && end < s.start + s.count)) continue;
    end = s.start > pos ? s.start : s.start + s.count;
  }
  return end;
}

// Runs ids[0, n) at the cache's next positions in Decoder::forward calls of
// at most `chunk` tokens (more when an image span is longer), never
// splitting an image span (spec §5.3; spans index into ids). The result does
// not depend on `chunk`. logits: [n, V] when all_logits (each chunk writes
// its rows), else the last token's [V]; may be null. observer and
// observe_attn_probs go to every forward call ("embed" opens each chunk).
// The fit and the spans are checked before any chunk runs; a bad id is
// refused by forward(), after the chunks before it were committed — check
// ids first where a refused prompt must leave no trace (Session does).
inline void prefill(const Decoder& dec, KVCache& cache, const int* ids, size_t n,
                    const std::vector<ImageSpan>& spans, size_t chunk, float* logits,
                    bool all_logits, ForwardBuffers& buf, const ops::ThreadContext& tc,
                    const ForwardObserver* observer = nullptr, bool observe_attn_probs = true) {
  if (chunk == 0) throw Error("prefill: the chunk must be at least 1 token");
  cache.check_fits(n);
  size_t prev_end = 0;  // prefill_chunk_end needs sorted, disjoint spans inside ids
  for (const ImageSpan& s : spans) {
    if (s.count == 0) continue;
    detail::check_image_span(s, n, "prefill");
    if (s.start < prev_end)
      throw Error("prefill: image spans must be sorted and disjoint ([" + std::to_string(s.start) +
                  ", " + std::to_string(s.start + s.count) + ") starts before " +
                  std::to_string(prev_end) + ")");
    prev_end = s.start + s.count;
  }
  const size_t V = dec.vocab_rows();
  std::vector<ImageSpan> local;
  for (size_t pos = 0; pos < n;) {
    const size_t end = prefill_chunk_end(pos, n, chunk, spans);
    local.clear();  // this chunk's spans, relative to its first token
    for (const ImageSpan& s : spans)
      if (s.count && s.start >= pos && s.start + s.count <= end)
        local.push_back({s.start - pos, s.count, s.embeddings});
    float* out = logits && all_logits ? logits + pos * V : logits;
    dec.forward(cache, ids + pos, end - pos, local, out, all_logits, buf, tc, observer,
                observe_attn_probs);
    pos = end;
  }
}

}  // namespace gemma3
