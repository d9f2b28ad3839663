// gemma3/ops/kernels-inl.hpp — the one file Highway's foreach_target.h
// re-includes once per target (HWY_TARGET_INCLUDE in gemma3/ops/dispatch.hpp).
// It gathers the per-target code of every kernel; each *-inl.hpp has a
// per-target include guard, so this file itself has none. Never include it
// directly: include gemma3/ops/dispatch.hpp (or any public ops header).

#include <hwy/highway.h>

#include "gemma3/ops/vector-inl.hpp"
#include "gemma3/ops/matmul-inl.hpp"
#include "gemma3/ops/matvec_quant-inl.hpp"
#include "gemma3/ops/norms-inl.hpp"
#include "gemma3/ops/activations-inl.hpp"
#include "gemma3/ops/softmax-inl.hpp"
#include "gemma3/ops/rope-inl.hpp"
#include "gemma3/ops/pooling-inl.hpp"

// A translation unit that wants its own Highway code compiled for the same
// targets (e.g. the benchmark's probes) names its per-target file here
// before including any gemma3 ops header; see docs/kernels.md.
#ifdef GEMMA3_OPS_EXTRA_INL
#include GEMMA3_OPS_EXTRA_INL
#endif
