// gemma3/rope.hpp — rotary position embedding tables (spec §3.4).
//
// Gemma 3 uses the rotate-half ("NeoX") convention over the whole head:
// element i pairs with element i + head_dim/2, both rotated by the angle
// θ_i = pos · inv_freq_i. Local (sliding-window) and global layers differ only
// in the frequencies:
//   local : inv_freq_i = rope_local_base_freq^(−2i/head_dim)
//   global: inv_freq_i = rope_theta^(−2i/head_dim) / rope_scaling_factor   (linear scaling)
//
// This header is the math: frequencies and cos/sin for one position. The
// rotation itself is a kernel (gemma3/ops). Tables are computed per position
// on the fly (head_dim/2 sincos per token), so a 128K context costs no table
// memory.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"

namespace gemma3 {

class Rope {
 public:
  Rope() = default;

  // base: RoPE base frequency; factor: linear scaling factor (1 = none).
  Rope(int head_dim, double base, double factor) : head_dim_(head_dim) {
    if (head_dim <= 0 || head_dim % 2 != 0)
      throw Error("rope: head_dim must be a positive even number, got " + std::to_string(head_dim));
    if (!(base > 1.0)) throw Error("rope: base frequency must be > 1, got " + std::to_string(base));
    if (!(factor > 0.0))
      throw Error("rope: rope_scaling factor must be > 0, got " + std::to_string(factor));
    inv_freq_.resize(size_t(head_dim / 2));
    for (size_t i = 0; i < inv_freq_.size(); ++i) {
      // Mirror HF's float32 arithmetic: exponent 2i/dim in f32, base^e, 1/x in
      // f32, then inv_freq / factor (spec §3.4 "HF computes inv_freq ... in f32").
      const float e = float(2 * i) / float(head_dim);
      const float p = float(std::pow(base, double(e)));
      inv_freq_[i] = (1.0f / p) / float(factor);
    }
  }

  // spec §3.4: local layers use rope_local_base_freq without scaling; global
  // layers rope_theta with linear scaling.
  static Rope local(const TextConfig& c) { return Rope(c.head_dim, c.rope_local_base_freq, 1.0); }
  static Rope global(const TextConfig& c) {
    return Rope(c.head_dim, c.rope_theta, c.rope_scaling_factor);
  }

  int head_dim() const { return head_dim_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

  // cos/sin of the head_dim/2 angles at position pos. HF's table is
  // cat(freqs, freqs), i.e. both halves equal; we keep one half.
  // The angle is an f32 product like HF's (pos · inv_freq in f32); cos/sin of
  // that f32 angle are evaluated in double and rounded once.
  void cos_sin(size_t pos, float* cos_out, float* sin_out) const {
    const float p = float(pos);
    for (size_t i = 0; i < inv_freq_.size(); ++i) {
      const float theta = p * inv_freq_[i];
      cos_out[i] = float(std::cos(double(theta)));
      sin_out[i] = float(std::sin(double(theta)));
    }
  }

 private:
  int head_dim_ = 0;
  std::vector<float> inv_freq_;  // head_dim/2
};

}  // namespace gemma3
