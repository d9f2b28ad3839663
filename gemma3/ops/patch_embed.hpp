// gemma3/ops/patch_embed.hpp — the SigLIP patch embedding (a p×p stride-p
// convolution) as im2col + matrix product.
#pragma once

#include <string>
#include <vector>

#include "gemma3/error.hpp"
#include "gemma3/ops/matmul.hpp"

namespace gemma3::ops {

// image: CHW [C, S, S] floats. Writes the (S/p)² patches, patch index
// r·(S/p) + q (row r, column q), each flattened as c·p·p + dy·p + dx — the
// order of a PyTorch Conv2d weight [out, C, p, p] — into patches
// [(S/p)², C·p·p]:
//
//   patches[r·(S/p) + q, c·p·p + dy·p + dx] = image[c, p·r + dy, p·q + dx]
inline void im2col_patches(const float* image, size_t C, size_t S, size_t p, float* patches) {
  const size_t g = S / p, cols = C * p * p;
  for (size_t r = 0; r < g; ++r) {
    for (size_t q = 0; q < g; ++q) {
      float* out = patches + (r * g + q) * cols;
      for (size_t c = 0; c < C; ++c) {
        for (size_t dy = 0; dy < p; ++dy) {
          const float* src = image + (c * S + p * r + dy) * S + p * q;
          for (size_t dx = 0; dx < p; ++dx) *out++ = src[dx];
        }
      }
    }
  }
}

// Patch embedding (spec §4.3 without the position embedding):
//
//   out[t, o] = bias[o] + Σ_{c,dy,dx} W[o, c, dy, dx] · image[c, p·r + dy, p·q + dx]
//
// t = r·(S/p) + q; W viewed as [out, C·p·p] (W.cols must be C·p·p); out is
// [(S/p)², W.rows]; bias may be nullptr.
inline void patch_embed(const float* image, size_t C, size_t S, size_t p, const MatView& W,
                        const float* bias, float* out, const ThreadContext& ctx) {
  if (p == 0 || S % p != 0) {
    throw Error("patch_embed: image size " + std::to_string(S) +
                " is not a multiple of the patch size " + std::to_string(p));
  }
  if (W.cols != C * p * p) {
    throw Error("patch_embed: weight has " + std::to_string(W.cols) +
                " columns, expected C·p·p = " + std::to_string(C * p * p));
  }
  const size_t n = (S / p) * (S / p);
  std::vector<float> patches(n * W.cols);
  im2col_patches(image, C, S, p, patches.data());
  matmul(W, patches.data(), n, out, ctx, bias);
}

}  // namespace gemma3::ops
