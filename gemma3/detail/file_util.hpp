// gemma3/detail/file_util.hpp — whole-file reads and a regular-file probe, the
// two file helpers the loaders and the converter share.
#pragma once

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gemma3/error.hpp"

namespace gemma3::detail {

// The bytes of a (small) file: tokenizer.model, a JSON config, a template.
inline std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open file");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(path + ": read error");
  return ss.str();
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace gemma3::detail
