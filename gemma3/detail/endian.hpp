// gemma3/detail/endian.hpp — the one host byte-order probe of the library.
//
// The binary formats gemma3 reads or writes by memcpy of whole values (the
// model file, safetensors, .npy) are little-endian; on a big-endian host those
// loaders and writers refuse with require_little_endian() instead of
// misreading the bytes. Readers that assemble values byte by byte (the
// SentencePiece tokenizer.model protobuf, CRC-32) need no check.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "gemma3/error.hpp"

namespace gemma3::detail {

inline bool is_little_endian() {
  const uint16_t x = 1;
  uint8_t b;
  std::memcpy(&b, &x, 1);
  return b == 1;
}

// Throws gemma3::Error "<what>: big-endian hosts are not supported (the format
// is little-endian)" on a big-endian host; `what` names the file.
inline void require_little_endian(const std::string& what) {
  if (!is_little_endian())
    throw Error(what + ": big-endian hosts are not supported (the format is little-endian)");
}

}  // namespace gemma3::detail
