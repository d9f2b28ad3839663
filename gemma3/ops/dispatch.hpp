// gemma3/ops/dispatch.hpp — compiles every kernel for every Highway target
// and exports the dispatch tables. Included by all public ops headers.
//
// How runtime dispatch works in a header-only library (docs/kernels.md):
//  * Highway's foreach_target.h re-includes gemma3/ops/kernels-inl.hpp once
//    per target this compiler can generate (AVX3, AVX2, SSE4, SSSE3 and a
//    scalar fallback on x86-64; NEON/SVE on Arm), each time inside its own
//    namespace gemma3::ops::N_<TARGET>.
//  * Per-target functions are `inline` (or templates), so several
//    translation units of one program may each compile them without
//    violating the one-definition rule; identical flags give identical code.
//  * HWY_EXPORT tables (one per kernel) are `static`: every translation unit
//    has its own table. The choice of target is global (hwy::GetChosenTarget,
//    made on the first call from the CPU's capabilities), so every TU picks
//    the same target.
//  * foreach_target.h can run only once per translation unit; hence this
//    single header compiles all kernels at once. A TU with Highway code of
//    its own adds it via GEMMA3_OPS_EXTRA_INL instead of including
//    foreach_target.h itself.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "gemma3/ops/threading.hpp"
#include "gemma3/tensor.hpp"

#if defined(HIGHWAY_HWY_FOREACH_TARGET_H_)
#error \
    "gemma3/ops: include gemma3 headers before hwy/foreach_target.h (one per TU); add your own per-target code with GEMMA3_OPS_EXTRA_INL"
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "gemma3/ops/kernels-inl.hpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/targets.h>

#include "gemma3/ops/kernels-inl.hpp"  // the static (baseline) target

namespace gemma3::ops {

HWY_EXPORT(CompiledTarget);

// Name of the Highway target the kernels run on ("AVX3", "AVX2", "NEON", ...):
// the one HWY_DYNAMIC_DISPATCH picks on this CPU (honours
// hwy::SetSupportedTargetsForTest and hwy::DisableTargets).
inline const char* active_target_name() {
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(CompiledTarget)());
}

}  // namespace gemma3::ops
