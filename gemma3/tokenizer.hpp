// gemma3/tokenizer.hpp — Gemma 3's tokenizer: SentencePiece BPE with byte fallback,
// reimplemented to give exactly SentencePiece's ids (no libsentencepiece dependency).
//
// Encoding (SentencePieceProcessor::Encode with a BPE model):
//   1. normalize: spaces -> U+2581 "▁" (escape_whitespaces), each byte that does not
//      start a valid UTF-8 character -> U+FFFD; optional dummy prefix / whitespace
//      squeezing when the model asks for them (Gemma does not).
//   2. split into symbols: at each position the longest USER_DEFINED piece (frozen,
//      never merged) or else one UTF-8 character.
//   3. merge: repeatedly merge the adjacent pair whose concatenation is a piece
//      (NORMAL, USER_DEFINED or UNUSED) with the highest score, ties to the leftmost;
//      a priority queue with lazily skipped stale entries makes this O(n log n).
//   4. output: UNUSED pieces are split back into the two symbols that formed them;
//      symbols that are not pieces become <unk>, which byte fallback replaces by
//      <0xHH> pieces, one per UTF-8 byte.
// Decoding: pieces concatenated with "▁" -> " "; CONTROL pieces -> ""; <unk> -> " ⁇ ";
// runs of byte pieces are decoded as UTF-8, each byte that cannot start a valid
// character giving U+FFFD. docs/tokenizer.md has the details.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gemma3/detail/file_util.hpp"
#include "gemma3/json.hpp"
#include "gemma3/detail/sentencepiece_model.hpp"
#include "gemma3/detail/tokenizer_tables.hpp"
#include "gemma3/detail/tokenizer_json.hpp"
#include "gemma3/error.hpp"
#include "gemma3/tokenizer_types.hpp"

namespace gemma3 {
namespace detail {

// State of an ids -> text decode (shared by Tokenizer::decode and StreamDecoder).
struct DecodeState {
  std::string bytes;       // pending byte-piece bytes not yet turned into text
  bool text_empty = true;  // nothing emitted yet
  bool is_bos_ws = true;   // SentencePiece: may still strip a leading "▁"
  bool bos_ws_seen = false;
};

}  // namespace detail

class StreamDecoder;

class Tokenizer {
 public:
  // Loads a SentencePiece `tokenizer.model` or a HF `tokenizer.json` (told apart by content).
  static Tokenizer load(const std::string& path) {
    const std::string data = detail::read_file_bytes(path);
    size_t i = 0;
    while (i < data.size() &&
           (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
      ++i;
    if (i < data.size() && data[i] == '{') return from_json(data, path);
    return from_sentencepiece(data, path);
  }
  static Tokenizer from_sentencepiece(std::string_view bytes,
                                      const std::string& what = "tokenizer.model") {
    return from_data(detail::parse_sentencepiece_model(bytes, what), what);
  }
  static Tokenizer from_json(std::string_view text, const std::string& what = "tokenizer.json") {
    return from_data(detail::parse_tokenizer_json(text, what), what);
  }
  // The model-file route: the stored pieces (id = index) and settings. Validates them.
  static Tokenizer from_pieces(std::vector<Piece> pieces, TokenizerOptions options = {}) {
    return from_data(TokenizerData{std::move(pieces), std::move(options)}, "tokenizer");
  }
  static Tokenizer from_data(TokenizerData data, const std::string& what) {
    Tokenizer t;
    t.init(std::move(data), what);
    return t;
  }

  // Text -> ids, exactly SentencePieceProcessor::Encode (no BOS/EOS added).
  std::vector<int> encode(std::string_view text) const {
    std::vector<int> ids;
    encode_normalized(normalize(text), ids);
    return ids;
  }
  // Ids -> text, exactly SentencePieceProcessor::Decode. Throws on an id outside the vocabulary.
  std::string decode(const std::vector<int>& ids) const {
    detail::DecodeState st;
    std::string out;
    for (int id : ids) decode_step(st, id, out);
    flush_bytes(st, out, true);
    return out;
  }

  const std::string& piece(int id) const { return pieces_[checked(id)].text; }
  PieceType piece_type(int id) const { return pieces_[checked(id)].type; }
  std::optional<int> token_id(std::string_view text) const {
    const int id = index_.find(text.data(), text.size());
    if (id < 0) return std::nullopt;
    return id;
  }
  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  // SentencePiece semantics: the id of the named piece when it has the expected type, else -1.
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  int unk_id() const { return unk_id_; }
  const std::vector<Piece>& pieces() const { return pieces_; }
  const TokenizerOptions& options() const { return opt_; }

 private:
  friend class StreamDecoder;
  Tokenizer() = default;

  size_t checked(int id) const {
    if (id < 0 || id >= vocab_size())
      throw Error("token id " + std::to_string(id) + " is out of range (vocabulary has " +
                  std::to_string(vocab_size()) + " pieces)");
    return static_cast<size_t>(id);
  }

  void init(TokenizerData data, const std::string& what) {
    pieces_ = std::move(data.pieces);
    opt_ = std::move(data.options);
    if (pieces_.empty()) throw Error(what + ": no pieces");
    if (pieces_.size() > 0x7FFFFFFF) throw Error(what + ": too many pieces");
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const Piece& p = pieces_[i];
      const int t = static_cast<int>(p.type);
      if (t < 1 || t > 6)
        throw Error(what + ": piece " + std::to_string(i) + " has invalid type " +
                    std::to_string(t));
      if (p.text.empty()) throw Error(what + ": piece " + std::to_string(i) + " is empty");
      // Decoded text is promised to be UTF-8; a piece that is not would leak raw bytes.
      if (!detail::valid_utf8(p.text))
        throw Error(what + ": piece " + std::to_string(i) + " is not valid UTF-8");
      if (std::isnan(p.score))
        throw Error(what + ": piece " + std::to_string(i) + " has a NaN score");
    }
    int dup_of = -1;
    const int dup = index_.build(pieces_, dup_of);
    if (dup >= 0)
      throw Error(what + ": piece \"" + pieces_[static_cast<size_t>(dup)].text +
                  "\" appears twice (ids " + std::to_string(dup_of) + " and " +
                  std::to_string(dup) + ")");
    std::vector<std::string_view> user_defined;
    unk_id_ = -1;
    byte_id_.assign(256, -1);
    has_unused_ = false;
    max_piece_len_ = 0;
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const Piece& p = pieces_[i];
      const int id = static_cast<int>(i);
      max_piece_len_ = std::max(max_piece_len_, p.text.size());
      switch (p.type) {
        case PieceType::UserDefined: user_defined.push_back(p.text); break;
        case PieceType::Unused: has_unused_ = true; break;
        case PieceType::Unknown:
          if (unk_id_ >= 0)
            throw Error(what + ": two unknown pieces (ids " + std::to_string(unk_id_) + " and " +
                        std::to_string(id) + ")");
          unk_id_ = id;
          break;
        case PieceType::Byte: {
          if (!opt_.byte_fallback)
            throw Error(what + ": byte piece \"" + p.text +
                        "\" found although byte_fallback is off");
          if (!detail::is_byte_piece_text(p.text))
            throw Error(what + ": byte piece " + std::to_string(id) + " is \"" + p.text +
                        "\", expected <0xHH>");
          byte_id_[detail::byte_piece_value(p.text)] = id;
          break;
        }
        default: break;
      }
    }
    if (unk_id_ < 0) throw Error(what + ": no unknown piece (<unk>)");
    // A merge can span the start of a "▁" run only through a piece with a "▁" after
    // another character: remember those (piece id, offset of that "▁").
    bridges_.clear();
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const std::string& t = pieces_[i].text;
      if (!mergeable(pieces_[i].type)) continue;
      for (size_t k = t.find(detail::kSpaceSymbol, 1); k != std::string::npos;
           k = t.find(detail::kSpaceSymbol, k + 1))
        if (!(k >= 3 && t.compare(k - 3, 3, detail::kSpaceSymbol) == 0))
          bridges_.emplace_back(static_cast<int>(i), k);
    }
    space_cuts_ = bridges_.size() <= 64;  // else only frozen symbols cut (still exact)
    if (opt_.byte_fallback) {
      for (int b = 0; b < 256; ++b) {
        if (byte_id_[static_cast<size_t>(b)] < 0) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", b);
          throw Error(what + ": byte_fallback is on but byte piece " + name + " is missing");
        }
      }
    }
    trie_.build(user_defined);
    const SpecialIds ids = special_ids(pieces_, opt_);
    bos_id_ = ids.bos;
    eos_id_ = ids.eos;
    pad_id_ = ids.pad;
  }

  // Step 1: SentencePiece's Normalizer::Normalize with an identity character map.
  std::string normalize(std::string_view in) const {
    std::string out;
    out.reserve(in.size() + in.size() / 2 + 8);
    const bool squeeze = opt_.remove_extra_whitespaces;
    auto add_ws = [&] {
      if (opt_.escape_whitespaces) out.append(detail::kSpaceSymbol);
      else out += ' ';
    };
    size_t i = 0;
    if (squeeze)
      while (i < in.size() && in[i] == ' ') ++i;  // leading spaces
    if (i == in.size()) return out;
    if (!opt_.treat_whitespace_as_suffix && opt_.add_dummy_prefix) add_ws();
    bool prev_space = squeeze;
    while (i < in.size()) {
      const char c = in[i];
      if (static_cast<unsigned char>(c) < 0x80) {
        if (c == ' ') {
          if (!prev_space) add_ws();
          prev_space = squeeze;
        } else {
          out += c;
          prev_space = false;
        }
        ++i;
        continue;
      }
      const size_t n = detail::utf8_seq_len(in, i);
      if (n == 0) {  // malformed: U+FFFD for this one byte
        out.append(detail::kReplacementChar);
        ++i;
      } else {
        out.append(in.data() + i, n);
        i += n;
      }
      prev_space = false;
    }
    if (squeeze) {
      const std::string_view sp =
          opt_.escape_whitespaces ? detail::kSpaceSymbol : std::string_view(" ");
      while (out.size() >= sp.size() && std::string_view(out).substr(out.size() - sp.size()) == sp)
        out.resize(out.size() - sp.size());
    }
    if (opt_.treat_whitespace_as_suffix && opt_.add_dummy_prefix) add_ws();
    return out;
  }

  struct Symbol {
    int32_t begin, len, prev, next;
    bool freeze;
  };
  struct Candidate {
    uint64_t key;  // order_key(score, left): bigger = merged first
    int32_t left, right, size;
  };
  // Max-heap order: higher score first, then the leftmost pair, as one integer
  // (a float's bits made monotonic in the high half, ~left in the low half).
  static uint64_t order_key(float score, int32_t left) {
    if (score == 0.0f) score = 0.0f;  // -0 == +0
    uint32_t u;
    std::memcpy(&u, &score, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (static_cast<uint64_t>(u) << 32) | static_cast<uint32_t>(~static_cast<uint32_t>(left));
  }
  struct CandidateLess {
    bool operator()(const Candidate& a, const Candidate& b) const { return a.key < b.key; }
  };
  static bool mergeable(PieceType t) {
    return t == PieceType::Normal || t == PieceType::UserDefined || t == PieceType::Unused;
  }

  // Steps 2-4 on normalized text.
  void encode_normalized(const std::string& norm, std::vector<int>& ids) const {
    const char* s = norm.data();
    const size_t n = norm.size();
    if (n == 0) return;
    if (n > 0x7FFFFFFF) throw Error("tokenizer: input text too long (over 2 GiB)");
    std::vector<Symbol> sym;
    sym.reserve(n / 2 + 1);
    for (size_t pos = 0; pos < n;) {
      size_t len = trie_.longest(s + pos, n - pos);
      const bool freeze = len > 0;
      if (!freeze) len = std::min(n - pos, detail::one_char_len(s[pos]));
      const int32_t idx = static_cast<int32_t>(sym.size());
      sym.push_back(Symbol{static_cast<int32_t>(pos), static_cast<int32_t>(len), idx - 1,
                           pos + len < n ? idx + 1 : -1, freeze});
      pos += len;
    }

    std::vector<Candidate> heap;
    heap.reserve(sym.size());
    // SentencePiece remembers, for each UNUSED piece string, the last proposed pair that
    // formed it, to split it back at the end (bpe_model.cc rev_merge).
    std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;
    bool heaped = false;  // the first pairs are collected, then heapified in O(n)
    auto maybe_add = [&](int32_t l, int32_t r) {
      if (l < 0 || r < 0 || sym[static_cast<size_t>(l)].freeze ||
          sym[static_cast<size_t>(r)].freeze)
        return;
      const Symbol& a = sym[static_cast<size_t>(l)];
      const Symbol& b = sym[static_cast<size_t>(r)];
      const size_t len = static_cast<size_t>(a.len) + static_cast<size_t>(b.len);
      if (len > max_piece_len_) return;
      const int id = index_.find(s + a.begin, len);
      if (id < 0) return;
      const Piece& p = pieces_[static_cast<size_t>(id)];
      if (!mergeable(p.type)) return;
      heap.push_back(Candidate{order_key(p.score, l), l, r, static_cast<int32_t>(len)});
      if (heaped) std::push_heap(heap.begin(), heap.end(), CandidateLess{});
      if (p.type == PieceType::Unused)
        rev_merge[std::string_view(s + a.begin, len)] = {
            std::string_view(s + a.begin, static_cast<size_t>(a.len)),
            std::string_view(s + b.begin, static_cast<size_t>(b.len))};
    };
    // Merges the symbols [first, last) among themselves.
    auto merge_range = [&](size_t first, size_t last) {
      heap.clear();
      heaped = false;
      for (size_t i = first + 1; i < last; ++i)
        maybe_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
      std::make_heap(heap.begin(), heap.end(), CandidateLess{});
      heaped = true;
      while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), CandidateLess{});
        const Candidate top = heap.back();
        heap.pop_back();
        Symbol& l = sym[static_cast<size_t>(top.left)];
        Symbol& r = sym[static_cast<size_t>(top.right)];
        // Stale: one side was merged away or grew since this pair was proposed.
        if (l.len == 0 || r.len == 0 || l.len + r.len != top.size) continue;
        l.len += r.len;
        l.next = r.next;
        if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = top.left;
        r.len = 0;
        maybe_add(l.prev, top.left);
        maybe_add(top.left, l.next);
      }
    };

    bool prev_unk = false;
    auto emit = [&](std::string_view w) {
      int id = index_.find(w.data(), w.size());
      if (id < 0) id = unk_id_;
      if (pieces_[static_cast<size_t>(id)].type != PieceType::Unknown) {
        ids.push_back(id);
        prev_unk = false;
      } else if (opt_.byte_fallback) {
        for (char c : w) ids.push_back(byte_id_[static_cast<unsigned char>(c)]);
        prev_unk = false;
      } else {
        if (!prev_unk) ids.push_back(id);  // a run of unknowns is one <unk>
        prev_unk = true;
      }
    };
    // Splits an UNUSED piece back into the pair that formed it, recursively.
    auto resegment = [&](std::string_view w, auto& self) -> void {
      if (has_unused_) {
        const int id = index_.find(w.data(), w.size());
        if (id >= 0 && pieces_[static_cast<size_t>(id)].type == PieceType::Unused) {
          const auto it = rev_merge.find(w);
          if (it != rev_merge.end()) {
            self(it->second.first, self);
            self(it->second.second, self);
            return;
          }
        }
      }
      emit(w);
    };
    auto output_from = [&](size_t first) {
      for (int32_t i = static_cast<int32_t>(first); i != -1; i = sym[static_cast<size_t>(i)].next) {
        const Symbol& y = sym[static_cast<size_t>(i)];
        resegment(std::string_view(s + y.begin, static_cast<size_t>(y.len)), resegment);
      }
    };

    // No merge can span a frozen symbol, nor the start of a run of "▁" unless a piece
    // with a "▁" after another character (bridges_, e.g. ">▁</") matches the text
    // there, so the text is merged in these independent chunks: same result, much
    // smaller heaps. Not with UNUSED pieces, whose
    // resegmentation depends on the global order of proposals.
    auto is_cut = [&](size_t i) {
      if (sym[i].freeze || sym[i - 1].freeze) return true;  // frozen symbols never merge
      const size_t b = static_cast<size_t>(sym[i].begin);
      if (!space_cuts_ || norm.compare(b, 3, detail::kSpaceSymbol) != 0 ||
          (b >= 3 && norm.compare(b - 3, 3, detail::kSpaceSymbol) == 0))
        return false;
      for (const auto& br : bridges_) {  // a piece like ">▁</" could still span it
        const size_t k = br.second;
        const std::string& t = pieces_[static_cast<size_t>(br.first)].text;
        if (b >= k && norm.compare(b - k, t.size(), t) == 0) return false;
      }
      return true;
    };
    const bool chunked = !has_unused_;
    for (size_t first = 0; first < sym.size();) {
      size_t last = sym.size();
      if (chunked) {
        last = first + 1;
        while (last < sym.size() && !is_cut(last)) ++last;
        sym[first].prev = -1;
        sym[last - 1].next = -1;
      }
      merge_range(first, last);
      output_from(first);
      first = last;
    }
  }

  // Turns pending byte-piece bytes into text. Not final: keeps a tail that more bytes
  // could still complete into a valid character.
  static void flush_bytes(detail::DecodeState& st, std::string& out, bool final) {
    const std::string_view b = st.bytes;
    size_t off = 0;
    const size_t before = out.size();
    while (off < b.size()) {
      const size_t n = detail::utf8_seq_len(b, off);
      if (n > 0) {
        out.append(b.data() + off, n);
        off += n;
        continue;
      }
      if (!final && detail::utf8_can_complete(b, off)) break;
      out.append(detail::kReplacementChar);  // structurally invalid byte
      ++off;
    }
    st.bytes.erase(0, off);
    if (out.size() != before) st.text_empty = false;
  }

  void decode_step(detail::DecodeState& st, int id, std::string& out) const {
    const Piece& p = pieces_[checked(id)];
    if (p.type == PieceType::Byte) {
      st.bytes += static_cast<char>(detail::byte_piece_value(p.text));
      flush_bytes(st, out, false);
      return;
    }
    flush_bytes(st, out, true);
    if (st.bos_ws_seen || !st.text_empty) st.is_bos_ws = false;
    std::string_view w = p.text;
    bool has_bos_ws = false;
    const size_t before = out.size();
    if (p.type == PieceType::Control) {
      // invisible
    } else if (p.type == PieceType::Unknown) {
      out += opt_.unk_surface;
    } else {
      if (st.is_bos_ws && (opt_.add_dummy_prefix || opt_.remove_extra_whitespaces)) {
        if (w.substr(0, detail::kSpaceSymbol.size()) == detail::kSpaceSymbol) {
          w.remove_prefix(detail::kSpaceSymbol.size());
          has_bos_ws = !opt_.remove_extra_whitespaces;
        }
      }
      for (size_t pos = 0;;) {  // "▁" -> " "
        const size_t hit = w.find(detail::kSpaceSymbol, pos);
        if (hit == std::string_view::npos) {
          out.append(w.data() + pos, w.size() - pos);
          break;
        }
        out.append(w.data() + pos, hit - pos);
        out += ' ';
        pos = hit + detail::kSpaceSymbol.size();
      }
    }
    st.bos_ws_seen = has_bos_ws;
    if (out.size() != before) st.text_empty = false;
  }

  std::vector<Piece> pieces_;
  TokenizerOptions opt_;
  detail::PieceIndex index_;
  detail::PrefixTrie trie_;
  std::vector<int> byte_id_;
  int unk_id_ = -1, bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
  bool has_unused_ = false;
  bool space_cuts_ = false;
  std::vector<std::pair<int, size_t>> bridges_;
  size_t max_piece_len_ = 0;
};

// Incremental decoding for generation: push() one id at a time and print what it
// returns. The concatenation of all push() results and flush() equals
// Tokenizer::decode of the same ids, and no result ends inside a UTF-8 character
// (byte pieces are held back until their character is complete or proven invalid).
// The Tokenizer must outlive the decoder.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tok_(&tokenizer) {}
  std::string push(int id) {
    std::string out;
    tok_->decode_step(st_, id, out);
    return out;
  }
  // End of the stream: pending bytes that never completed a character become U+FFFD.
  std::string flush() {
    std::string out;
    Tokenizer::flush_bytes(st_, out, true);
    return out;
  }
  void reset() { st_ = detail::DecodeState{}; }

 private:
  const Tokenizer* tok_;
  detail::DecodeState st_;
};

}  // namespace gemma3
