// gemma3-bench — performance measurements. One subcommand per area:
//   gemma3-bench kernels [options]   machine limits and the weight kernels
//   gemma3-bench vision [options]    the SigLIP encoder on one image
// main() only dispatches; each subcommand lives in its own bench/*.hpp.
//
// The kernel probes are compiled for every Highway target together with the
// library's kernels; this must be defined before any gemma3 header.
#define GEMMA3_OPS_EXTRA_INL "bench/bench_kernels-inl.hpp"

#include <cstdio>
#include <cstring>
#include <exception>

#include "bench/bench_kernels.hpp"
#include "bench/bench_model.hpp"
#include "bench/bench_vision.hpp"
#include "gemma3/ops/targets.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: gemma3-bench <subcommand> [options]\n"
               "subcommands:\n"
               "  kernels   read bandwidth, f32 FMA peak, matvec/matmul for every weight type\n"
               "  model     end to end at the real 4B shapes (random weights): TTFT, prefill, "
               "decode, image, RSS\n"
               "  vision    SigLIP encoder + projector on one 896x896 image, per weight type\n"
               "run 'gemma3-bench <subcommand> --help' for its options\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 1 : 0;
  }
  try {
    gemma3::ops::limit_targets_from_env();  // e.g. GEMMA3_MAX_TARGET=SSE4: the speed without AVX2
    if (!std::strcmp(argv[1], "kernels")) return gemma3::bench::kernels_main(argc - 1, argv + 1);
    if (!std::strcmp(argv[1], "model")) return gemma3::bench::model_main(argc - 1, argv + 1);
    if (!std::strcmp(argv[1], "vision")) return gemma3::bench::bench_vision(argc - 1, argv + 1);
    std::fprintf(stderr, "error: unknown subcommand '%s'\n", argv[1]);
    usage();
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
