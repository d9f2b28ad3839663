// gemma3/detail/sentencepiece_model.hpp — reads a SentencePiece `tokenizer.model`.
//
// A hand-written reader for the few ModelProto fields that matter (see SentencePiece's
// sentencepiece_model.proto): pieces (piece, score, type), the TrainerSpec fields
// model_type, byte_fallback, treat_whitespace_as_suffix, unk_surface and the special
// piece names, and the NormalizerSpec flags. Every read is bounds-checked; unknown
// fields are skipped; anything malformed throws gemma3::Error naming the file.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "gemma3/error.hpp"
#include "gemma3/tokenizer_types.hpp"

namespace gemma3::detail {

class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& what) : d_(data), what_(what) {}

  bool done() const { return pos_ >= d_.size(); }

  // Reads a field key; returns the field number, sets the wire type.
  uint32_t key(uint32_t& wire_type) {
    const uint64_t k = varint();
    wire_type = static_cast<uint32_t>(k & 7);
    const uint64_t field = k >> 3;
    if (field == 0 || field > 536870911u) fail("invalid field number");
    return static_cast<uint32_t>(field);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= d_.size()) fail("truncated varint");
      const uint8_t b = static_cast<uint8_t>(d_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    fail("varint longer than 10 bytes");
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > d_.size() - pos_) fail("length-delimited field runs past the end");
    const std::string_view s = d_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  // Little-endian fixed32 assembled byte by byte (like varint): endian-neutral, so
  // tokenizer.model loads the same on a big-endian host (tests/big_endian).
  float fixed32_float() {
    if (d_.size() - pos_ < 4) fail("truncated fixed32");
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i)
      u |= static_cast<uint32_t>(static_cast<uint8_t>(d_[pos_ + i])) << (8 * i);
    pos_ += 4;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); return;
      case 1: advance(8); return;
      case 2: bytes(); return;
      case 5: advance(4); return;
      default: fail("unsupported wire type " + std::to_string(wire_type));
    }
  }
  void expect(uint32_t wire_type, uint32_t want, const char* field) {
    if (wire_type != want)
      fail(std::string("field ") + field + " has wire type " + std::to_string(wire_type));
  }
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": malformed SentencePiece model at byte " + std::to_string(pos_) + ": " +
                msg);
  }

 private:
  void advance(size_t n) {
    if (d_.size() - pos_ < n) fail("truncated fixed-size field");
    pos_ += n;
  }
  std::string_view d_;
  const std::string& what_;
  size_t pos_ = 0;
};

// Parses a serialized sentencepiece.ModelProto. Checks only the format and the
// settings we support; Tokenizer::from_data validates the vocabulary itself.
inline TokenizerData parse_sentencepiece_model(std::string_view data, const std::string& what) {
  TokenizerData out;
  TokenizerOptions& opt = out.options;
  // proto2 defaults of the fields (they differ from Gemma's values).
  opt.add_dummy_prefix = true;
  opt.remove_extra_whitespaces = true;
  opt.escape_whitespaces = true;
  opt.treat_whitespace_as_suffix = false;
  opt.byte_fallback = false;
  opt.unk_surface = " \xE2\x81\x87 ";
  opt.unk_piece = "<unk>";
  opt.bos_piece = "<s>";
  opt.eos_piece = "</s>";
  opt.pad_piece = "<pad>";
  int64_t model_type = 1;  // UNIGRAM

  if (data.empty()) throw Error(what + ": empty file, not a SentencePiece model");
  ProtoReader r(data, what);
  while (!r.done()) {
    uint32_t wt = 0;
    const uint32_t f = r.key(wt);
    if (f == 1) {  // pieces
      r.expect(wt, 2, "ModelProto.pieces");
      ProtoReader p(r.bytes(), what);
      Piece piece;
      uint64_t type = 1;
      while (!p.done()) {
        uint32_t pwt = 0;
        const uint32_t pf = p.key(pwt);
        if (pf == 1) {
          p.expect(pwt, 2, "SentencePiece.piece");
          piece.text = std::string(p.bytes());
        } else if (pf == 2) {
          p.expect(pwt, 5, "SentencePiece.score");
          piece.score = p.fixed32_float();
        } else if (pf == 3) {
          p.expect(pwt, 0, "SentencePiece.type");
          type = p.varint();
        } else p.skip(pwt);
      }
      if (type < 1 || type > 6)
        throw Error(what + ": piece " + std::to_string(out.pieces.size()) + " has unknown type " +
                    std::to_string(type));
      piece.type = static_cast<PieceType>(type);
      out.pieces.push_back(std::move(piece));
    } else if (f == 2) {  // trainer_spec
      r.expect(wt, 2, "ModelProto.trainer_spec");
      ProtoReader t(r.bytes(), what);
      while (!t.done()) {
        uint32_t twt = 0;
        const uint32_t tf = t.key(twt);
        auto str = [&](std::string& dst, const char* name) {
          t.expect(twt, 2, name);
          dst = std::string(t.bytes());
        };
        auto flag = [&](bool& dst, const char* name) {
          t.expect(twt, 0, name);
          dst = t.varint() != 0;
        };
        if (tf == 3) {
          t.expect(twt, 0, "TrainerSpec.model_type");
          model_type = static_cast<int64_t>(t.varint());
        } else if (tf == 24)
          flag(opt.treat_whitespace_as_suffix, "TrainerSpec.treat_whitespace_as_suffix");
        else if (tf == 35) flag(opt.byte_fallback, "TrainerSpec.byte_fallback");
        else if (tf == 44) str(opt.unk_surface, "TrainerSpec.unk_surface");
        else if (tf == 45) str(opt.unk_piece, "TrainerSpec.unk_piece");
        else if (tf == 46) str(opt.bos_piece, "TrainerSpec.bos_piece");
        else if (tf == 47) str(opt.eos_piece, "TrainerSpec.eos_piece");
        else if (tf == 48) str(opt.pad_piece, "TrainerSpec.pad_piece");
        else t.skip(twt);
      }
    } else if (f == 3 || f == 5) {  // normalizer_spec, denormalizer_spec
      r.expect(wt, 2, f == 3 ? "ModelProto.normalizer_spec" : "ModelProto.denormalizer_spec");
      ProtoReader n(r.bytes(), what);
      std::string name;
      bool has_charsmap = false;
      while (!n.done()) {
        uint32_t nwt = 0;
        const uint32_t nf = n.key(nwt);
        auto flag = [&](bool& dst, const char* fname) {
          n.expect(nwt, 0, fname);
          dst = n.varint() != 0;
        };
        if (nf == 1) {
          n.expect(nwt, 2, "NormalizerSpec.name");
          name = std::string(n.bytes());
        } else if (nf == 2) {
          n.expect(nwt, 2, "NormalizerSpec.precompiled_charsmap");
          has_charsmap = !n.bytes().empty();
        } else if (f == 3 && nf == 3) flag(opt.add_dummy_prefix, "NormalizerSpec.add_dummy_prefix");
        else if (f == 3 && nf == 4)
          flag(opt.remove_extra_whitespaces, "NormalizerSpec.remove_extra_whitespaces");
        else if (f == 3 && nf == 5)
          flag(opt.escape_whitespaces, "NormalizerSpec.escape_whitespaces");
        else n.skip(nwt);
      }
      // Only the identity normalizer is implemented (what Gemma uses); a compiled
      // character map (nmt_nfkc, ...) would change the text before BPE.
      if (has_charsmap)
        throw Error(
            what + ": " + (f == 3 ? "normalizer" : "denormalizer") + " \"" + name +
            "\" uses a precompiled character map; only the identity normalizer is supported");
    } else {
      r.skip(wt);
    }
  }
  if (model_type != 2)
    throw Error(what + ": SentencePiece model_type is " + std::to_string(model_type) +
                ", only BPE (2) is supported");
  if (out.pieces.empty()) throw Error(what + ": the SentencePiece model has no pieces");
  return out;
}

}  // namespace gemma3::detail
