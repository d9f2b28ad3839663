// gemma3/detail/tokenizer_tables.hpp — lookup structures and byte helpers of the
// tokenizer: the piece hash index, the USER_DEFINED prefix trie, UTF-8 helpers.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gemma3/detail/utf8.hpp"
#include "gemma3/json.hpp"
#include "gemma3/error.hpp"
#include "gemma3/tokenizer_types.hpp"

namespace gemma3::detail {

inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";      // U+2581 ▁
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Bytes of the UTF-8 character a lead byte announces (SentencePiece's OneCharLen).
inline size_t one_char_len(char c) {
  return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[(static_cast<unsigned char>(c) >> 4) & 15];
}

// The byte a "<0xHH>" piece stands for (text already checked by is_byte_piece_text).
inline size_t byte_piece_value(std::string_view t) {
  auto hex = [](char c) { return static_cast<size_t>(c <= '9' ? c - '0' : c - 'A' + 10); };
  return hex(t[3]) * 16 + hex(t[4]);
}

// String -> id, open addressing over one arena of all piece texts (no per-piece
// allocation; lookups take a (pointer, length) straight from the text being encoded).
class PieceIndex {
 public:
  // Returns -1, or the first id whose text repeats an earlier one (dup_of = earlier id).
  int build(const std::vector<Piece>& pieces, int& dup_of) {
    size_t total = 0;
    for (const auto& p : pieces) total += p.text.size();
    arena_.clear();
    arena_.reserve(total);
    off_.assign(pieces.size() + 1, 0);
    for (size_t i = 0; i < pieces.size(); ++i) {
      off_[i] = arena_.size();
      arena_.insert(arena_.end(), pieces[i].text.begin(), pieces[i].text.end());
    }
    off_[pieces.size()] = arena_.size();
    size_t cap = 16;
    while (cap < pieces.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{0, -1});
    mask_ = cap - 1;
    for (size_t i = 0; i < pieces.size(); ++i) {
      const char* p = arena_.data() + off_[i];
      const size_t n = off_[i + 1] - off_[i];
      const uint64_t h = hash(p, n);
      size_t s = static_cast<size_t>(h) & mask_;
      for (;; s = (s + 1) & mask_) {
        Slot& slot = slots_[s];
        if (slot.id < 0) {
          slot = Slot{static_cast<uint32_t>(h >> 32), static_cast<int32_t>(i)};
          break;
        }
        if (slot.h == static_cast<uint32_t>(h >> 32) && equals(slot.id, p, n)) {
          dup_of = slot.id;
          return static_cast<int>(i);
        }
      }
    }
    return -1;
  }
  int find(const char* p, size_t n) const {
    const uint64_t h = hash(p, n);
    const uint32_t h32 = static_cast<uint32_t>(h >> 32);
    for (size_t s = static_cast<size_t>(h) & mask_;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.id < 0) return -1;
      if (slot.h == h32 && equals(slot.id, p, n)) return slot.id;
    }
  }

 private:
  struct Slot {
    uint32_t h;
    int32_t id;
  };
  bool equals(int id, const char* p, size_t n) const {
    const size_t len = off_[static_cast<size_t>(id) + 1] - off_[static_cast<size_t>(id)];
    return len == n &&
           (n == 0 || std::memcmp(arena_.data() + off_[static_cast<size_t>(id)], p, n) == 0);
  }
  static uint64_t hash(const char* p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
      p += 8;
      n -= 8;
    }
    uint64_t w = 0;
    if (n > 0) std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
  }
  std::vector<char> arena_;
  std::vector<size_t> off_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// Byte trie of the USER_DEFINED pieces for longest-prefix matching.
class PrefixTrie {
 public:
  void build(const std::vector<std::string_view>& keys) {
    std::vector<std::map<unsigned char, int32_t>> tmp(1);
    std::vector<uint8_t> term(1, 0);
    for (std::string_view k : keys) {
      int32_t node = 0;
      for (char ch : k) {
        auto& m = tmp[static_cast<size_t>(node)];
        const auto it = m.find(static_cast<unsigned char>(ch));
        if (it != m.end()) {
          node = it->second;
        } else {
          const int32_t next = static_cast<int32_t>(tmp.size());
          m.emplace(static_cast<unsigned char>(ch), next);
          tmp.emplace_back();
          term.push_back(0);
          node = next;
        }
      }
      term[static_cast<size_t>(node)] = 1;
    }
    root_.assign(256, -1);
    for (const auto& kv : tmp[0]) root_[kv.first] = kv.second;
    edge_begin_.assign(tmp.size() + 1, 0);
    edge_byte_.clear();
    edge_child_.clear();
    for (size_t i = 0; i < tmp.size(); ++i) {
      edge_begin_[i] = static_cast<uint32_t>(edge_byte_.size());
      if (i == 0) continue;
      for (const auto& kv : tmp[i]) {
        edge_byte_.push_back(kv.first);
        edge_child_.push_back(kv.second);
      }
    }
    edge_begin_[tmp.size()] = static_cast<uint32_t>(edge_byte_.size());
    terminal_ = std::move(term);
  }
  // Length of the longest key that is a prefix of s[0..n), 0 if none. Like
  // SentencePiece's PrefixMatcher (Darts commonPrefixSearch keeping 64 results),
  // only the 64 shortest matches are considered.
  size_t longest(const char* s, size_t n) const {
    if (n == 0 || root_.empty()) return 0;
    int32_t node = root_[static_cast<unsigned char>(s[0])];
    size_t best = 0;
    int matches = 0;
    for (size_t i = 1; node >= 0; ++i) {
      if (terminal_[static_cast<size_t>(node)]) {
        best = i;
        if (++matches == 64) break;
      }
      if (i == n) break;
      const unsigned char c = static_cast<unsigned char>(s[i]);
      int32_t next = -1;
      for (uint32_t e = edge_begin_[static_cast<size_t>(node)];
           e < edge_begin_[static_cast<size_t>(node) + 1]; ++e) {
        if (edge_byte_[e] == c) {
          next = edge_child_[e];
          break;
        }
      }
      node = next;
    }
    return best;
  }

 private:
  std::vector<int32_t> root_;
  std::vector<uint32_t> edge_begin_;
  std::vector<unsigned char> edge_byte_;
  std::vector<int32_t> edge_child_;
  std::vector<uint8_t> terminal_;
};

}  // namespace gemma3::detail
