// gemma3/ops/targets.hpp — which Highway targets this build compiled, and a
// cap on the one run-time dispatch picks.
//
// The kernels run on the best target the CPU supports (AVX3 on an AVX-512
// CPU). Capping it at, say, AVX2 runs them exactly as on a CPU without
// AVX-512: the same per-target code, including the target's intrinsic paths
// (VNNI only under AVX3, pmaddubsw under AVX2), is chosen. The tools and the
// test suite read the cap from the environment, GEMMA3_MAX_TARGET=AVX2
// (docs/kernels.md, "Targets").
#pragma once

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <hwy/targets.h>

#include "gemma3/error.hpp"

namespace gemma3::ops {

// Names of the targets compiled into this program, best first ("AVX3 AVX2
// SSE4 SSSE3 EMU128" on x86-64; "SVE2_128 SVE_256 SVE2 SVE NEON" on Arm).
inline std::string compiled_target_names() {
  std::string names;
  for (int64_t t = HWY_TARGETS; t != 0; t &= t - 1) {
    if (!names.empty()) names += ' ';
    names += hwy::TargetName(t & -t);
  }
  return names;
}

// Name of the target dispatch picks now, without running a kernel (the best
// one this CPU supports, after any cap).
inline const char* best_supported_target_name() {
  const int64_t t = hwy::SupportedTargets() & HWY_TARGETS;
  return t ? hwy::TargetName(t & -t) : hwy::TargetName(HWY_STATIC_TARGET);
}

// Caps dispatch at the target called `name` (case-insensitive, as
// compiled_target_names() spells it): every better target is disabled for
// the rest of the process (hwy::DisableTargets). A cap above what the CPU
// supports changes nothing. Throws gemma3::Error for a name this build did
// not compile.
inline void limit_targets(const std::string& name) {
  auto same = [](const std::string& a, const char* b) {
    size_t i = 0;
    for (; i < a.size() && b[i]; ++i)
      if (std::toupper(static_cast<unsigned char>(a[i])) !=
          std::toupper(static_cast<unsigned char>(b[i])))
        return false;
    return i == a.size() && !b[i];
  };
  for (int64_t t = HWY_TARGETS; t != 0; t &= t - 1) {
    const int64_t bit = t & -t;
    if (same(name, hwy::TargetName(bit))) {
      hwy::DisableTargets(bit - 1);  // Highway numbers better targets with lower bits
      return;
    }
  }
  throw Error("unknown SIMD target '" + name + "' (this build has: " + compiled_target_names() +
              ")");
}

// limit_targets(getenv("GEMMA3_MAX_TARGET")) when that is set and not empty.
inline void limit_targets_from_env() {
  const char* v = std::getenv("GEMMA3_MAX_TARGET");
  if (v && *v) {
    try {
      limit_targets(v);
    } catch (const Error& e) {
      throw Error(std::string("GEMMA3_MAX_TARGET: ") + e.what());
    }
  }
}

}  // namespace gemma3::ops
