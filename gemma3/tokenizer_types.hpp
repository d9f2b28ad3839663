// gemma3/tokenizer_types.hpp — the vocabulary data a gemma3::Tokenizer is built from.
//
// Kept apart from tokenizer.hpp so the file readers (detail/sentencepiece_model.hpp,
// detail/tokenizer_json.hpp) and the model-file writer can share these types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemma3 {

// SentencePiece's ModelProto.SentencePiece.Type numbering (sentencepiece_model.proto).
enum class PieceType : uint8_t {
  Normal = 1,       // ordinary BPE piece, merged by score
  Unknown = 2,      // <unk>; exactly one
  Control = 3,      // <bos>, <eos>, <pad>: never matched in text, decode to ""
  UserDefined = 4,  // matched first in the text (longest match), never merged further
  Unused = 5,       // may be formed by a merge, then split back into its two halves
  Byte = 6,         // <0x00>..<0xFF>, byte fallback
};

struct Piece {
  std::string text;
  float score = 0.0f;
  PieceType type = PieceType::Normal;
};

// The SentencePiece settings that change encoding or decoding. Defaults are Gemma 3's
// (identity normalizer, no dummy prefix, spaces escaped to U+2581, byte fallback).
struct TokenizerOptions {
  // NormalizerSpec
  bool add_dummy_prefix = false;
  bool remove_extra_whitespaces = false;
  bool escape_whitespaces = true;
  // TrainerSpec
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = true;
  std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ ", what <unk> decodes to
  std::string unk_piece = "<unk>";
  std::string bos_piece = "<bos>";
  std::string eos_piece = "<eos>";
  std::string pad_piece = "<pad>";
};

// What a tokenizer file holds: the pieces (id = index) and the settings.
struct TokenizerData {
  std::vector<Piece> pieces;
  TokenizerOptions options;
};

// The special ids by SentencePiece's rule, the one rule for them: bos, eos and
// pad are the Control pieces named by the options, unk the Unknown piece; -1
// when there is none. (Tokenizer::bos_id() etc. and the model-file writer.)
struct SpecialIds {
  int bos = -1, eos = -1, pad = -1, unk = -1;
};

inline SpecialIds special_ids(const std::vector<Piece>& pieces, const TokenizerOptions& o) {
  SpecialIds ids;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Piece& p = pieces[i];
    const int id = int(i);
    if (p.type == PieceType::Unknown && ids.unk < 0) ids.unk = id;
    if (p.type != PieceType::Control) continue;
    if (p.text == o.bos_piece && ids.bos < 0) ids.bos = id;
    if (p.text == o.eos_piece && ids.eos < 0) ids.eos = id;
    if (p.text == o.pad_piece && ids.pad < 0) ids.pad = id;
  }
  return ids;
}

}  // namespace gemma3
