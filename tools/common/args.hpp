// tools/common/args.hpp — command-line plumbing shared by the tools: flag
// values, number parsing with clear errors, and a main() that turns any
// exception into "error: ..." and exit status 1.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "gemma3/error.hpp"
#include "gemma3/ops/targets.hpp"

namespace gemma3::tools {

// Walks argv: `while (args.next()) { if (args.flag() == "--x") v = args.value(); ... }`.
class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool next() {
    if (++i_ >= argc_) return false;
    flag_ = argv_[i_];
    return true;
  }
  const std::string& flag() const { return flag_; }
  // The value after the current flag ("--flag VALUE").
  std::string value() {
    if (i_ + 1 >= argc_) throw Error(flag_ + ": missing value");
    return argv_[++i_];
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string flag_;
};

inline size_t parse_size(const std::string& flag, const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 18)
    throw Error(flag + ": expected a non-negative integer, got \"" + v + "\"");
  return size_t(std::stoull(v));
}

inline float parse_float(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const float f = std::strtof(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw Error(flag + ": expected a number, got \"" + v + "\"");
  return f;
}

// main() of a tool: run(argc, argv) with dispatch capped at GEMMA3_MAX_TARGET
// if set; any exception -> "error: ..." on stderr, exit 1.
template <class Run>
int run_main(Run run, int argc, char** argv) {
  try {
    ops::limit_targets_from_env();
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace gemma3::tools
