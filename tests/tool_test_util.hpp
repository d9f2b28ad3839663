// tests/tool_test_util.hpp — how a test starts one of our programs.
#pragma once

#include <string>

// The shell command that runs the program at `path` (quoted): behind the
// emulator when the suite was cross-compiled (CMAKE_CROSSCOMPILING_EMULATOR,
// e.g. qemu-aarch64; it reads the CPU model from QEMU_CPU, which the child
// inherits), else the program itself.
inline std::string tool_command(const std::string& path) {
  const std::string emulator = GEMMA3_TEST_EMULATOR;
  return (emulator.empty() ? "" : emulator + " ") + "\"" + path + "\"";
}
