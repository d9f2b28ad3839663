// gemma3/detail/tokenizer_json.hpp — reads a Hugging Face `tokenizer.json` (BPE with
// byte fallback, as Gemma ships it) into SentencePiece pieces.
//
// The file is converted to the SentencePiece model it was made from, and encoding then
// follows SentencePiece (docs/tokenizer.md explains the differences with HF's own
// runtime):
//   * ids and texts come from model.vocab (must be dense 0..n-1);
//   * added tokens below n: special "<pad>", "<eos>", "<bos>", "<s>", "</s>" are CONTROL,
//     model.unk_token is UNKNOWN, every other added token is USER_DEFINED;
//     added tokens at n or above (Gemma's "<image_soft_token>" = 262144) are HF-only
//     and not part of the SentencePiece vocabulary: they are skipped;
//   * "<0xHH>" pieces are BYTE when model.byte_fallback is true;
//   * NORMAL pieces get score (first normal id - id): the merge priority of SentencePiece
//     BPE is the piece score, and Gemma's pieces are ordered by it (the merges list is
//     not needed and not read);
//   * normalizer Replace(" " -> "▁") = escape_whitespaces; a Prepend("▁") before it
//     = add_dummy_prefix. pre_tokenizer must be null or Gemma's Split(" "), which is a
//     no-op once spaces are escaped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gemma3/json.hpp"
#include "gemma3/error.hpp"
#include "gemma3/tokenizer_types.hpp"

namespace gemma3::detail {

inline bool is_byte_piece_text(std::string_view s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return s.size() == 6 && s.substr(0, 3) == "<0x" && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

inline TokenizerData parse_tokenizer_json(std::string_view text, const std::string& what) {
  const json::Value root = json::parse(text, what);
  if (!root.is_object()) throw Error(what + ": not a tokenizer.json (top level is not an object)");
  const json::Value& model = json::get(root, "model", what);
  const std::string mwhat = what + ": model";
  const std::string& type = json::get_string(model, "type", mwhat);
  if (type != "BPE") throw Error(what + ": model.type is \"" + type + "\", only BPE is supported");

  TokenizerData out;
  TokenizerOptions& opt = out.options;
  opt.add_dummy_prefix = false;
  opt.remove_extra_whitespaces = false;
  opt.escape_whitespaces = false;
  opt.byte_fallback = false;
  if (const json::Value* bf = model.find("byte_fallback"); bf != nullptr && !bf->is_null())
    opt.byte_fallback = bf->as_bool(mwhat + ".byte_fallback");
  std::string unk;
  if (const json::Value* u = model.find("unk_token"); u != nullptr && !u->is_null())
    unk = u->as_string(mwhat + ".unk_token");
  if (unk.empty())
    throw Error(what + ": model.unk_token is missing; a SentencePiece model needs <unk>");
  opt.unk_piece = unk;

  // Normalizer: only what a SentencePiece identity normalizer can express.
  auto replace_space = [](const json::Value& n) {
    const json::Value* pat = n.find("pattern");
    const json::Value* s = pat != nullptr ? pat->find("String") : nullptr;
    const json::Value* c = n.find("content");
    return s != nullptr && s->is_string() && s->as_string() == " " && c != nullptr &&
           c->is_string() && c->as_string() == "\xE2\x96\x81";
  };
  auto prepend_meta = [](const json::Value& n) {
    const json::Value* p = n.find("prepend");
    return p != nullptr && p->is_string() && p->as_string() == "\xE2\x96\x81";
  };
  const json::Value* norm = root.find("normalizer");
  if (norm != nullptr && !norm->is_null()) {
    std::vector<const json::Value*> steps;
    const std::string& nt = json::get_string(*norm, "type", what + ": normalizer");
    if (nt == "Sequence") {
      for (const auto& s : json::get(*norm, "normalizers", what + ": normalizer").as_array())
        steps.push_back(&s);
    } else {
      steps.push_back(norm);
    }
    size_t i = 0;
    if (i < steps.size() && steps[i]->find("type") != nullptr &&
        steps[i]->find("type")->is_string() && steps[i]->find("type")->as_string() == "Prepend" &&
        prepend_meta(*steps[i])) {
      opt.add_dummy_prefix = true;
      ++i;
    }
    if (i < steps.size() && steps[i]->find("type") != nullptr &&
        steps[i]->find("type")->is_string() && steps[i]->find("type")->as_string() == "Replace" &&
        replace_space(*steps[i])) {
      opt.escape_whitespaces = true;
      ++i;
    }
    if (i != steps.size())
      throw Error(
          what +
          ": unsupported normalizer (only Replace(\" \" -> \"\xE2\x96\x81\"), optionally after "
          "Prepend(\"\xE2\x96\x81\"), is supported)");
  }
  const json::Value* pre = root.find("pre_tokenizer");
  if (pre != nullptr && !pre->is_null()) {
    const json::Value* pt = pre->find("type");
    const json::Value* pat = pre->find("pattern");
    const json::Value* ps = pat != nullptr ? pat->find("String") : nullptr;
    const bool split_space = pt != nullptr && pt->is_string() && pt->as_string() == "Split" &&
                             ps != nullptr && ps->is_string() && ps->as_string() == " " &&
                             opt.escape_whitespaces;
    if (!split_space)
      throw Error(what +
                  ": unsupported pre_tokenizer (only none, or Split(\" \") after escaping spaces)");
  }

  // Vocabulary: dense ids.
  const auto& vocab = json::get(model, "vocab", mwhat).as_object(mwhat + ".vocab");
  if (vocab.empty()) throw Error(what + ": model.vocab is empty");
  if (vocab.size() > 0x7FFFFFF) throw Error(what + ": model.vocab is too large");
  out.pieces.resize(vocab.size());
  std::vector<char> seen(vocab.size(), 0);
  for (const auto& kv : vocab) {
    const int64_t id = kv.second.as_int(mwhat + ".vocab[\"" + kv.first + "\"]");
    if (id < 0 || id >= static_cast<int64_t>(vocab.size()))
      throw Error(what + ": model.vocab id " + std::to_string(id) + " of \"" + kv.first +
                  "\" is outside 0.." + std::to_string(vocab.size() - 1));
    if (seen[static_cast<size_t>(id)])
      throw Error(what + ": model.vocab uses id " + std::to_string(id) + " twice");
    seen[static_cast<size_t>(id)] = 1;
    out.pieces[static_cast<size_t>(id)].text = kv.first;
  }

  // Types from the added tokens, the unk token and the byte pieces.
  if (const json::Value* added = root.find("added_tokens"); added != nullptr && !added->is_null()) {
    for (const auto& t : added->as_array(what + ": added_tokens")) {
      const std::string awhat = what + ": added_tokens entry";
      const int64_t id = json::get_int(t, "id", awhat);
      const std::string& content = json::get_string(t, "content", awhat);
      if (id >= static_cast<int64_t>(out.pieces.size()))
        continue;  // HF-only token, not in the SP vocab
      if (id < 0) throw Error(awhat + " \"" + content + "\" has a negative id");
      Piece& p = out.pieces[static_cast<size_t>(id)];
      if (p.text != content)
        throw Error(awhat + " \"" + content + "\" has id " + std::to_string(id) +
                    ", which model.vocab gives to \"" + p.text + "\"");
      const json::Value* sp = t.find("special");
      const bool special = sp != nullptr && sp->is_bool() && sp->as_bool();
      // Gemma's "<s>"/"</s>" are HTML tags (not special): user-defined.
      const bool control = special && (content == "<pad>" || content == "<eos>" ||
                                       content == "<bos>" || content == "<s>" || content == "</s>");
      p.type = content == unk ? PieceType::Unknown
               : control      ? PieceType::Control
                              : PieceType::UserDefined;
    }
  }
  int first_normal = -1;
  bool have_unk = false;
  for (size_t id = 0; id < out.pieces.size(); ++id) {
    Piece& p = out.pieces[id];
    if (p.text == unk) p.type = PieceType::Unknown;
    if (p.type == PieceType::Unknown) have_unk = true;
    if (p.type == PieceType::Normal && opt.byte_fallback && is_byte_piece_text(p.text))
      p.type = PieceType::Byte;
    if (p.type == PieceType::Normal && first_normal < 0) first_normal = static_cast<int>(id);
    if (p.type == PieceType::Normal)
      p.score = static_cast<float>(first_normal - static_cast<int>(id));
  }
  if (!have_unk) throw Error(what + ": model.unk_token \"" + unk + "\" is not in model.vocab");
  // Special piece names: SentencePiece's defaults for Gemma-style vocabularies.
  opt.bos_piece = "<bos>";
  opt.eos_piece = "<eos>";
  opt.pad_piece = "<pad>";
  for (const auto& p : out.pieces) {
    if (p.type != PieceType::Control) continue;
    if (p.text == "<s>") opt.bos_piece = p.text;
    if (p.text == "</s>") opt.eos_piece = p.text;
  }
  return out;
}

}  // namespace gemma3::detail
