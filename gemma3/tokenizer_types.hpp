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

}  // namespace gemma3
