// fuzz/fuzz_make_corpus.cpp — writes the generated part of the seed corpora
// (fuzz/corpus/<target>/gen_*): minimal model files of every weight type,
// small safetensors files, minimal tokenizer.model / tokenizer.json files,
// JPEGs stb_image_write cannot write (progressive, greyscale, CMYK).
// The other seeds are copies of tests/data files (scripts/fuzz.sh
// --make-corpus runs this and copies them). Deterministic output.
//
//   fuzz_make_corpus <fuzz/corpus>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "gemma3/json.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/model_writer.hpp"
#include "gemma3/tokenizer.hpp"
#include "../tests/jpeg_test_util.hpp"

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) throw gemma3::Error(path + ": cannot write");
}

// 4 control/unknown pieces, 256 byte pieces, a few normal and user-defined ones.
gemma3::TokenizerData tiny_vocab() {
  using gemma3::Piece;
  using gemma3::PieceType;
  gemma3::TokenizerData d;
  d.pieces = {{"<pad>", 0, PieceType::Control},
              {"<eos>", 0, PieceType::Control},
              {"<bos>", 0, PieceType::Control},
              {"<unk>", 0, PieceType::Unknown}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    d.pieces.push_back({name, 0, PieceType::Byte});
  }
  const char* normal[] = {"\xE2\x96\x81", "a", "b", "ab", "\u2581a", "\n", "e", "\xC3\xA9"};
  float score = -1;
  for (const char* s : normal) d.pieces.push_back({s, score--, PieceType::Normal});
  d.pieces.push_back({"<start_of_turn>", 0, PieceType::UserDefined});   // 268
  d.pieces.push_back({"<end_of_turn>", 0, PieceType::UserDefined});     // 269
  d.pieces.push_back({"<start_of_image>", 0, PieceType::UserDefined});  // 270
  d.pieces.push_back({"<end_of_image>", 0, PieceType::UserDefined});    // 271
  d.pieces.push_back({"<unused0>", 0, PieceType::Unused});              // 272
  return d;
}

gemma3::ModelConfig tiny_config(bool vision) {
  gemma3::ModelConfig c;
  gemma3::TextConfig& t = c.text;
  t.hidden_size = 8;
  t.num_hidden_layers = 2;
  t.num_attention_heads = 2;
  t.num_key_value_heads = 1;
  t.head_dim = 4;
  t.intermediate_size = 8;
  t.vocab_size = 280;
  t.max_position_embeddings = 64;
  t.sliding_window = 4;
  t.sliding_window_pattern = 2;
  t.query_pre_attn_scalar = 4;
  t.layer_is_global = {false, true};
  c.tokens.pad = 0;
  c.tokens.eos = 1;
  c.tokens.bos = 2;
  c.tokens.start_of_turn = 268;
  c.tokens.end_of_turn = 269;
  c.tokens.stop = {1, 269};
  c.tokens.boi = 270;
  c.tokens.eoi = 271;
  c.tokens.image = 275;
  c.has_vision = vision;
  c.vision.hidden_size = 4;
  c.vision.num_hidden_layers = 1;
  c.vision.num_attention_heads = 1;
  c.vision.intermediate_size = 4;
  c.vision.patch_size = 2;
  c.vision.image_size = 4;
  c.mm_tokens_per_image = 1;
  return c;
}

void write_model(const std::string& path, const gemma3::ModelConfig& c, gemma3::WeightType type) {
  gemma3::ModelWriter w(path, c, type, tiny_vocab(), "{{ bos_token }}");
  uint32_t state = 12345;
  for (const auto& s : w.specs()) {
    std::vector<float> v(size_t(gemma3::element_count(s.shape)));
    for (float& x : v) {
      state = state * 1664525u + 1013904223u;
      x = float(int(state >> 20) - 2048) / 8192.0f;
    }
    w.write_f32(v.data(), v.size());
  }
  w.finish();
}

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char(n >> (8 * i));
  return s;
}
std::string safetensors(std::string header, const std::string& data) {
  while (header.size() % 8) header += ' ';
  return u64le(header.size()) + header + data;
}

// Protobuf encoding of a SentencePiece ModelProto for `d` (BPE, identity).
std::string varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += char(0x80 | (v & 0x7F));
    v >>= 7;
  }
  return s + char(v);
}
std::string field_bytes(int f, const std::string& b) {
  return varint(uint64_t(f) << 3 | 2) + varint(b.size()) + b;
}
std::string field_varint(int f, uint64_t v) { return varint(uint64_t(f) << 3) + varint(v); }
std::string sentencepiece_proto(const gemma3::TokenizerData& d) {
  std::string out;
  for (const auto& p : d.pieces) {
    std::string m = field_bytes(1, p.text);
    uint32_t u;
    std::memcpy(&u, &p.score, 4);
    m += char(2 << 3 | 5);
    for (int i = 0; i < 4; ++i) m += char(u >> (8 * i));
    if (p.type != gemma3::PieceType::Normal) m += field_varint(3, uint64_t(p.type));
    out += field_bytes(1, m);
  }
  out += field_bytes(2, field_varint(3, 2) + field_varint(35, 1) + field_bytes(45, "<unk>") +
                            field_bytes(46, "<bos>") + field_bytes(47, "<eos>") +
                            field_bytes(48, "<pad>"));
  out += field_bytes(3, field_bytes(1, "identity") + field_varint(3, 0) + field_varint(4, 0));
  return out;
}

std::string tokenizer_json(const gemma3::TokenizerData& d) {
  namespace json = gemma3::json;
  using gemma3::PieceType;
  std::string j = R"({"version":"1.0","added_tokens":[)";
  bool first = true;
  for (size_t id = 0; id < d.pieces.size(); ++id) {
    const auto& p = d.pieces[id];
    if (p.type != PieceType::Control && p.type != PieceType::Unknown &&
        p.type != PieceType::UserDefined)
      continue;
    j += (first ? "" : ",");
    first = false;
    j += R"({"id":)" + std::to_string(id) + R"(,"content":)" + json::quote(p.text) +
         R"(,"special":)" + (p.type == PieceType::UserDefined ? "false" : "true") + "}";
  }
  j += R"(,{"id":300,"content":"<image_soft_token>","special":true}],)";
  j += R"("normalizer":{"type":"Replace","pattern":{"String":" "},"content":"\u2581"},)";
  j +=
      R"("pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"MergedWithPrevious","invert":false},)";
  j += R"("model":{"type":"BPE","unk_token":"<unk>","byte_fallback":true,"vocab":{)";
  for (size_t id = 0; id < d.pieces.size(); ++id)
    j += (id ? "," : "") + json::quote(d.pieces[id].text) + ":" + std::to_string(id);
  j += R"(},"merges":[]}})";
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_corpus <fuzz/corpus>\n";
    return 2;
  }
  const std::string root = argv[1];
  try {
    for (const char* t : {"model_file", "safetensors", "sentencepiece", "tokenizer_json", "image"})
      ::mkdir((root + "/" + t).c_str(), 0755);
    using gemma3::WeightType;
    const char* names[] = {"f32", "bf16", "q8", "q4"};
    for (int i = 0; i < 4; ++i)
      write_model(root + "/model_file/gen_text_" + names[i] + ".g3", tiny_config(false),
                  WeightType(i));
    write_model(root + "/model_file/gen_vision_q8.g3", tiny_config(true), WeightType::Q8);
    write_model(root + "/model_file/gen_vision_f32.g3", tiny_config(true), WeightType::F32);

    const std::string st = root + "/safetensors/";
    write_file(st + "gen_two_tensors.safetensors",
               safetensors(R"({"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                           std::string(20, '\x3f')));
    write_file(
        st + "gen_metadata_scalar_empty.safetensors",
        safetensors(
            R"({"__metadata__":{"format":"pt"},"s":{"dtype":"F16","shape":[],"data_offsets":[0,2]},)"
            R"("e":{"dtype":"I64","shape":[0,4],"data_offsets":[2,2]}})",
            std::string(2, '\x01')));
    write_file(st + "gen_all_dtypes.safetensors",
               safetensors(R"({"b":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]},)"
                           R"("u":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},)"
                           R"("f8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[2,4]},)"
                           R"("i":{"dtype":"I32","shape":[1,1],"data_offsets":[4,8]},)"
                           R"("d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})",
                           std::string(16, '\x02')));
    write_file(st + "gen_empty_header.safetensors", safetensors("{}", ""));

    const gemma3::TokenizerData v = tiny_vocab();
    write_file(root + "/sentencepiece/gen_minimal.model", sentencepiece_proto(v));
    write_file(root + "/tokenizer_json/gen_minimal.json", tokenizer_json(v));
    // The tiny checkpoint's vocabulary (1024 pieces) as tokenizer.json.
    const std::string tiny = std::string(GEMMA3_TEST_DATA_DIR) + "/tiny/model/tokenizer.model";
    write_file(root + "/tokenizer_json/gen_tiny.json",
               tokenizer_json(gemma3::detail::parse_sentencepiece_model(
                   gemma3::detail::read_file_bytes(tiny), tiny)));

    // JPEG seeds for the libjpeg path: a 16x8 gradient, 4-component ones CMYK.
    auto gradient = [](int comps) {
      std::vector<std::uint8_t> px(16 * 8 * comps);
      for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t(i * 29 + i / 7);
      return px;
    };
    auto write_jpeg = [&](const char* name, J_COLOR_SPACE space, int comps, bool progressive) {
      const std::vector<std::uint8_t> j =
          encode_libjpeg(16, 8, space, comps, gradient(comps), 75, progressive);
      write_file(root + "/image/" + name, std::string(j.begin(), j.end()));
    };
    write_jpeg("gen_progressive_16x8.jpg", JCS_RGB, 3, true);
    write_jpeg("gen_grey_16x8.jpg", JCS_GRAYSCALE, 1, false);
    write_jpeg("gen_cmyk_16x8.jpg", JCS_CMYK, 4, false);
    write_jpeg("gen_cmyk_progressive_16x8.jpg", JCS_CMYK, 4, true);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
