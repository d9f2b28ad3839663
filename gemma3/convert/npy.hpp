// gemma3/convert/npy.hpp — writes float32 arrays as NumPy .npy files.
//
// Format 1.0: magic "\x93NUMPY", version 1 0, little-endian uint16 header
// length, an ASCII dict {'descr': '<f4', 'fortran_order': False, 'shape': (…), }
// padded with spaces and a final '\n' so that the data starts at a multiple of
// 64 bytes, then the C-order little-endian data. Written to "OUT.tmp" first
// and renamed over OUT, so a reader never sees half a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gemma3/detail/endian.hpp"
#include "gemma3/error.hpp"

namespace gemma3::convert {

inline std::string npy_header_f32(const std::vector<size_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  const size_t base = 10;  // magic 6 + version 2 + header length 2
  size_t total = base + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - base - dict.size() - 1, ' ');
  dict += '\n';
  if (dict.size() > 65535) throw Error("npy: shape too long for a version 1.0 header");
  std::string h = "\x93NUMPY";
  h += char(1);
  h += char(0);
  h += char(dict.size() & 0xff);
  h += char((dict.size() >> 8) & 0xff);
  return h + dict;
}

// Writes data (product(shape) floats) to path atomically (temp file + rename).
inline void write_npy_f32(const std::string& path, const float* data,
                          const std::vector<size_t>& shape) {
  detail::require_little_endian(path);  // the data is written as host-order floats
  size_t count = 1;
  for (size_t d : shape) count *= d;
  const std::string header = npy_header_f32(shape);
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("npy: cannot create " + tmp);
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
  if (ok && count) ok = std::fwrite(data, sizeof(float), count, f) == count;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error("npy: write error on " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("npy: cannot rename " + tmp + " to " + path);
  }
}

}  // namespace gemma3::convert
