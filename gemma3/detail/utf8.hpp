// gemma3/detail/utf8.hpp — the UTF-8 rules every text reader shares (JSON
// strings, tokenizer pieces and streaming decode, the chat template's trim).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gemma3::detail {

// Length of the strictly valid UTF-8 sequence starting at s[p] (1..4; no overlongs,
// surrogates or code points above U+10FFFF), or 0 when it is not valid there.
inline size_t utf8_seq_len(std::string_view s, size_t p) {
  auto b = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  auto trail = [&](size_t i) { return (b(i) & 0xC0) == 0x80; };
  if (p >= s.size()) return 0;
  const unsigned c = b(p);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return trail(p + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!trail(p + 1) || !trail(p + 2)) return 0;
    if (c == 0xE0 && b(p + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(p + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!trail(p + 1) || !trail(p + 2) || !trail(p + 3)) return 0;
    if (c == 0xF0 && b(p + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(p + 1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// True when every byte of s belongs to a strictly valid UTF-8 character.
inline bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_seq_len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// True when bytes[p..] is a proper prefix of some valid UTF-8 character, i.e. more
// bytes could still make it valid (used by the streaming decoder to wait).
inline bool utf8_can_complete(std::string_view b, size_t p) {
  const unsigned c = static_cast<unsigned char>(b[p]);
  const size_t need = (c >= 0xC2 && c <= 0xDF)   ? 2
                      : (c >= 0xE0 && c <= 0xEF) ? 3
                      : (c >= 0xF0 && c <= 0xF4) ? 4
                                                 : 0;
  const size_t have = b.size() - p;
  if (need == 0 || have >= need) return false;
  for (size_t i = 1; i < have; ++i)
    if ((static_cast<unsigned char>(b[p + i]) & 0xC0) != 0x80) return false;
  if (have >= 2) {
    const unsigned c1 = static_cast<unsigned char>(b[p + 1]);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
        (c == 0xF4 && c1 >= 0x90))
      return false;
  }
  return true;
}

// Decodes the UTF-8 character at s[i] (length n from utf8_seq_len, > 0).
inline uint32_t utf8_code_point(std::string_view s, size_t i, size_t n) {
  const auto b = [&](size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k]));
  };
  if (n == 1) return b(0);
  if (n == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (n == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

}  // namespace gemma3::detail
