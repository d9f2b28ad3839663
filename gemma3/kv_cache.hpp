// gemma3/kv_cache.hpp — the per-layer key/value cache (spec §3.7).
//
// For every layer we keep k' (after k_norm and RoPE) and v of past positions,
// as [slot, num_key_value_heads, head_dim] rows.
//   * global layers keep every position: slot = pos, `context` slots;
//   * local (sliding-window) layers only ever look back sliding_window − 1
//     positions, so they keep a ring buffer of min(sliding_window, context)
//     slots: slot = pos % slots.
// No chunk slack is needed: the decoder attends to the keys of the chunk it
// is processing from its own buffer and commits them to the cache only after
// the chunk's attention is done (gemma3/decoder.hpp), so a ring of
// sliding_window slots always holds every older key a query can see.
//
// Memory is allocated for `context` positions at construction but becomes
// resident only as positions are written (LazyZeroArray).
//
// Element type: F32 (bit-exact vs the f32 reference) or BF16 (half the memory;
// the default for sessions, see docs/decoder.md). The decoder rounds a chunk's
// own keys/values to the cache type before using them, so prefill and
// token-by-token decoding see identical numbers with either type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"
#include "gemma3/tensor.hpp"

namespace gemma3 {

namespace detail {
// A zeroed array whose pages are touched only when written: calloc of a large
// block maps fresh zero pages without writing them (std::vector would write
// every zero). A cache for a long context therefore costs resident memory
// only for the positions used so far. Copies are deep.
template <typename T>
class LazyZeroArray {
 public:
  LazyZeroArray() = default;
  explicit LazyZeroArray(size_t n) : p_(alloc(n)), n_(n) {}
  LazyZeroArray(const LazyZeroArray& o) : p_(alloc(o.n_)), n_(o.n_) {
    if (n_) std::memcpy(p_.get(), o.p_.get(), n_ * sizeof(T));
  }
  LazyZeroArray(LazyZeroArray&&) noexcept = default;
  LazyZeroArray& operator=(LazyZeroArray o) noexcept {
    p_.swap(o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  T* data() { return p_.get(); }
  const T* data() const { return p_.get(); }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return p_.get()[i]; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  static T* alloc(size_t n) {
    if (n == 0) return nullptr;
    void* p = std::calloc(n, sizeof(T));
    if (!p) throw Error("kv cache: cannot allocate " + std::to_string(n * sizeof(T)) + " bytes");
    return static_cast<T*>(p);
  }
  std::unique_ptr<T, Free> p_;
  size_t n_ = 0;
};
}  // namespace detail

enum class KVType { F32, BF16 };

inline const char* kv_type_name(KVType t) { return t == KVType::F32 ? "f32" : "bf16"; }

class KVCache {
 public:
  KVCache() = default;

  // context: the most positions this cache can hold (≤ max_position_embeddings).
  KVCache(const TextConfig& c, size_t context, KVType type) : type_(type), context_(context) {
    if (context == 0) throw Error("kv cache: context length must be at least 1");
    if (context > size_t(c.max_position_embeddings))
      throw Error("kv cache: context length " + std::to_string(context) +
                  " exceeds the model's max_position_embeddings " +
                  std::to_string(c.max_position_embeddings));
    if (c.layer_is_global.size() != size_t(c.num_hidden_layers))
      throw Error("kv cache: config has " + std::to_string(c.layer_is_global.size()) +
                  " layer types for " + std::to_string(c.num_hidden_layers) + " layers");
    row_ = size_t(c.num_key_value_heads) * size_t(c.head_dim);
    layers_.resize(size_t(c.num_hidden_layers));
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& L = layers_[l];
      L.slots = slots_for(c, l, context);
      if (type == KVType::F32) {
        L.kf = detail::LazyZeroArray<float>(L.slots * row_);
        L.vf = detail::LazyZeroArray<float>(L.slots * row_);
      } else {
        L.kb = detail::LazyZeroArray<uint16_t>(L.slots * row_);
        L.vb = detail::LazyZeroArray<uint16_t>(L.slots * row_);
      }
    }
  }

  // Slots layer `layer` needs for `context` positions.
  static size_t slots_for(const TextConfig& c, size_t layer, size_t context) {
    if (c.layer_is_global.at(layer)) return context;
    const size_t w = size_t(c.sliding_window);
    return w < context ? w : context;
  }

  // Exact bytes of the cache (keys + values, all layers) for this config.
  static size_t bytes_for(const TextConfig& c, size_t context, KVType type) {
    const size_t row = size_t(c.num_key_value_heads) * size_t(c.head_dim);
    const size_t esize = type == KVType::F32 ? 4 : 2;
    size_t slots = 0;
    for (size_t l = 0; l < size_t(c.num_hidden_layers); ++l) slots += slots_for(c, l, context);
    return 2 * slots * row * esize;
  }

  KVType type() const { return type_; }
  size_t context() const { return context_; }
  size_t row_size() const { return row_; }  // elements of one position's k (or v)
  size_t bytes() const {
    size_t b = 0;
    for (const Layer& L : layers_)
      b += (L.kf.size() + L.vf.size()) * sizeof(float) + (L.kb.size() + L.vb.size()) * 2;
    return b;
  }

  // Positions committed so far (the next token's position).
  size_t length() const { return length_; }
  size_t remaining() const { return context_ - length_; }
  void reset() { length_ = 0; }  // stale contents are never read: length bounds every read

  // Throws unless n more positions fit.
  void check_fits(size_t n) const {
    if (n > remaining())
      throw Error("context overflow: " + std::to_string(length_) + " positions used + " +
                  std::to_string(n) + " new > context length " + std::to_string(context_) +
                  " (raise the context length, at most max_position_embeddings)");
  }

  // Rows of position pos in layer l: the f32 accessors for an F32 cache, the
  // bf16 ones for a BF16 cache. Valid for the last slots(l) positions only.
  size_t slots(size_t l) const { return layers_[l].slots; }
  const float* k_f32(size_t l, size_t pos) const { return layers_[l].kf.data() + off(l, pos); }
  const float* v_f32(size_t l, size_t pos) const { return layers_[l].vf.data() + off(l, pos); }
  const uint16_t* k_bf16(size_t l, size_t pos) const { return layers_[l].kb.data() + off(l, pos); }
  const uint16_t* v_bf16(size_t l, size_t pos) const { return layers_[l].vb.data() + off(l, pos); }

  // Write k, v (row_size() floats each) for position pos of layer l.
  // The decoder calls this for every layer, then advance() once per chunk.
  void store(size_t l, size_t pos, const float* k, const float* v) {
    Layer& L = layers_[l];
    const size_t o = off(l, pos);
    if (type_ == KVType::F32) {
      std::memcpy(L.kf.data() + o, k, row_ * sizeof(float));
      std::memcpy(L.vf.data() + o, v, row_ * sizeof(float));
    } else {
      for (size_t i = 0; i < row_; ++i) {
        L.kb[o + i] = f32_to_bf16(k[i]);
        L.vb[o + i] = f32_to_bf16(v[i]);
      }
    }
  }

  void advance(size_t n) {
    check_fits(n);
    length_ += n;
  }

  // Round x in place to what the cache would store (identity for F32).
  void round_to_type(float* x, size_t n) const {
    if (type_ == KVType::F32) return;
    for (size_t i = 0; i < n; ++i) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
  }

 private:
  struct Layer {
    size_t slots = 0;
    detail::LazyZeroArray<float> kf, vf;     // F32: slots · row
    detail::LazyZeroArray<uint16_t> kb, vb;  // BF16: slots · row
  };

  size_t off(size_t l, size_t pos) const { return (pos % layers_[l].slots) * row_; }

  KVType type_ = KVType::F32;
  size_t context_ = 0;
  size_t row_ = 0;
  size_t length_ = 0;
  std::vector<Layer> layers_;
};

}  // namespace gemma3
