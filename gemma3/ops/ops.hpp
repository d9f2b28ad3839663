// gemma3/ops/ops.hpp — all kernels (include the one you need, or this).
#pragma once

#include "gemma3/ops/activations.hpp"
#include "gemma3/ops/matmul.hpp"
#include "gemma3/ops/norms.hpp"
#include "gemma3/ops/patch_embed.hpp"
#include "gemma3/ops/pooling.hpp"
#include "gemma3/ops/rope.hpp"
#include "gemma3/ops/softmax.hpp"
#include "gemma3/ops/threading.hpp"
#include "gemma3/ops/vector.hpp"
