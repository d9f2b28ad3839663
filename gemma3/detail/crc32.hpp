// gemma3/detail/crc32.hpp — CRC-32 (IEEE 802.3, as zlib's crc32()).
//
// Polynomial 0xEDB88320 (reflected), initial value and final xor 0xFFFFFFFF;
// crc32("123456789") == 0xCBF43926. Slicing-by-8 so that verifying the data of
// an 8 GB model file takes seconds, not a minute. Incremental: pass the
// previous result as `crc` to continue a running checksum.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gemma3::detail {

struct Crc32Tables {
  uint32_t t[8][256];
  constexpr Crc32Tables() : t{} {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xffu];
  }
};

inline const Crc32Tables& crc32_tables() {
  static constexpr Crc32Tables tables;
  return tables;
}

inline uint32_t crc32(const void* data, size_t n, uint32_t crc = 0) {
  const auto& T = crc32_tables().t;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  while (n >= 8) {  // 8 bytes per step, byte by byte assembled (endian-neutral)
    const uint32_t lo =
        c ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
    c = T[7][lo & 0xff] ^ T[6][(lo >> 8) & 0xff] ^ T[5][(lo >> 16) & 0xff] ^ T[4][lo >> 24] ^
        T[3][p[4]] ^ T[2][p[5]] ^ T[1][p[6]] ^ T[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) c = T[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
  return ~c;
}

}  // namespace gemma3::detail
