// The one doctest main shared by every test executable. GEMMA3_MAX_TARGET
// caps the Highway target for the whole run (e.g. =AVX2: the suite as on a
// CPU without AVX-512; docs/kernels.md, "Targets").
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "gemma3/ops/targets.hpp"

int main(int argc, char** argv) {
  try {
    gemma3::ops::limit_targets_from_env();
  } catch (const gemma3::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  if (const char* cap = std::getenv("GEMMA3_MAX_TARGET"); cap && *cap)
    std::printf("GEMMA3_MAX_TARGET=%s: kernels dispatch to %s\n", cap,
                gemma3::ops::best_supported_target_name());
  return doctest::Context(argc, argv).run();
}
