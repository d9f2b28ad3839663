// Model file tests: what a converted file holds (config, tokenizer, template,
// tensors, typed views), and the loader's rejection of truncated, foreign,
// damaged and crafted files — always a gemma3::Error naming the file, never a
// crash.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "fmt_test_util.hpp"
#include "gemma3/detail/crc32.hpp"
#include "gemma3/convert/hf_checkpoint.hpp"
#include "gemma3/model.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/model_writer.hpp"
#include "gemma3/tokenizer.hpp"
#include "gemma3/weights.hpp"

using namespace fmt_test;
namespace d = gemma3::detail;
namespace cv = gemma3::convert;
using gemma3::WeightType;

namespace {

std::string convert_tiny(const TempDir& tmp, WeightType t, const std::string& name = "m.g3") {
  cv::ConvertOptions o;
  o.type = t;
  cv::convert_hf_checkpoint(kTiny, tmp / name, o);
  return tmp / name;
}

// Position of a tensor's table entry fields (just after its name).
size_t table_fields(const std::vector<uint8_t>& b, const std::string& name) {
  const uint64_t meta = get_le<uint64_t>(b, 24);
  const std::string hay(b.begin() + 64, b.begin() + 64 + long(meta));
  const size_t p = hay.rfind(name);  // the table is the last section
  REQUIRE(p != std::string::npos);
  return 64 + p + name.size();
}

// Opening `bytes` (written to a file) must throw an Error that names the file
// and contains `needle`.
void expect_reject(const TempDir& tmp, const std::vector<uint8_t>& bytes, const std::string& needle,
                   gemma3::LoadOptions opts = {}) {
  const std::string p = tmp / "bad.g3";
  write_bytes(p, bytes);
  std::string msg;
  try {
    gemma3::ModelFile::open(p, opts);
  } catch (const gemma3::Error& e) {
    msg = e.what();
  }
  CAPTURE(needle);
  CHECK_MESSAGE(!msg.empty(), "file was accepted");
  CHECK_MESSAGE(msg.find(p) != std::string::npos, msg);
  CHECK_MESSAGE(msg.find(needle) != std::string::npos, msg);
}

}  // namespace

TEST_CASE("crc32 matches the IEEE check value") {
  CHECK(d::crc32("123456789", 9) == 0xCBF43926u);
  CHECK(d::crc32("", 0) == 0u);
  // Incremental == one shot, across the 8-byte fast path.
  const std::string s = "The quick brown fox jumps over the lazy dog";
  CHECK(d::crc32(s.data(), s.size()) == 0x414FA339u);
  CHECK(d::crc32(s.data() + 13, s.size() - 13, d::crc32(s.data(), 13)) == 0x414FA339u);
}

TEST_CASE("a converted file holds the config, tokenizer, chat template and all tensors") {
  TempDir tmp;
  const std::string path = convert_tiny(tmp, WeightType::BF16);
  gemma3::LoadOptions o;
  o.verify_data = true;
  const gemma3::ModelFile mf = gemma3::ModelFile::open(path, o);
  const gemma3::ModelConfig& c = mf.config();
  // Values of tests/data/tiny/model/config.json.
  CHECK(c.text.hidden_size == 64);
  CHECK(c.text.num_hidden_layers == 8);
  CHECK(c.text.num_attention_heads == 4);
  CHECK(c.text.num_key_value_heads == 2);
  CHECK(c.text.head_dim == 32);
  CHECK(c.text.intermediate_size == 160);
  CHECK(c.text.vocab_size == 1024);
  CHECK(c.text.sliding_window == 16);
  CHECK(c.text.query_pre_attn_scalar == 24);
  CHECK(c.text.rope_scaling_factor == 8.0);
  CHECK(c.text.layer_is_global ==
        std::vector<bool>{false, false, false, false, false, true, false, false});
  CHECK(c.vision.hidden_size == 48);
  CHECK(c.vision.image_size == 112);
  CHECK(c.vision.num_attention_heads == 3);
  CHECK(c.mm_tokens_per_image == 16);
  CHECK(c.tokens.boi == 900);
  CHECK(c.tokens.eoi == 901);
  CHECK(c.tokens.image == 960);
  CHECK(c.tokens.stop == std::vector<int>{1, 5});
  CHECK(c.tokens.start_of_turn == 4);  // looked up in the tokenizer
  CHECK(c.tokens.end_of_turn == 5);
  CHECK(c.preprocess.rescale_factor == doctest::Approx(1.0 / 255));
  CHECK(c.has_vision);

  const gemma3::TokenizerData tok =
      d::parse_sentencepiece_model(read_text(kTiny + "/tokenizer.model"), "tokenizer.model");
  REQUIRE(mf.tokenizer_pieces().size() == tok.pieces.size());
  for (size_t i = 0; i < tok.pieces.size(); ++i) {
    CHECK(mf.tokenizer_pieces()[i].text == tok.pieces[i].text);
    CHECK(mf.tokenizer_pieces()[i].score == tok.pieces[i].score);
    CHECK(mf.tokenizer_pieces()[i].type == tok.pieces[i].type);
  }
  CHECK(mf.tokenizer_data().options.byte_fallback == tok.options.byte_fallback);
  CHECK(mf.tokenizer_data().options.bos_piece == tok.options.bos_piece);
  const gemma3::Tokenizer from_file = gemma3::Tokenizer::from_data(mf.tokenizer_data(), path);
  CHECK(from_file.bos_id() == 2);
  CHECK(from_file.eos_id() == 1);
  CHECK(from_file.pad_id() == 0);
  CHECK(from_file.unk_id() == 3);
  CHECK(mf.chat_template().find("<start_of_turn>") != std::string::npos);
  CHECK(mf.chat_template().rfind("{{ bos_token }}", 0) == 0);

  // The tokenizer rebuilt from the file encodes like the original.
  const gemma3::Tokenizer a = gemma3::load_tokenizer_from_model_file(path);
  CHECK(a.pieces().size() == tok.pieces.size());

  CHECK(mf.tensors().size() == 145);
  for (const auto& t : mf.tensors()) {
    CHECK(t.offset % 64 == 0);
    CHECK(reinterpret_cast<uintptr_t>(t.data) % 64 == 0);
  }
  CHECK(mf.find("language_model.lm_head.weight") == nullptr);
  CHECK_THROWS_AS(mf.matrix("nope"), gemma3::Error);
  CHECK_THROWS_AS(mf.f32("language_model.norm.weight", 65), gemma3::Error);
  CHECK_THROWS_AS(mf.f32("language_model.embed_tokens.weight", 1024 * 64), gemma3::Error);  // bf16
}

TEST_CASE("bind_weights gives every view its shape, for all four types") {
  TempDir tmp;
  for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::Q8, WeightType::Q4}) {
    CAPTURE(gemma3::weight_type_name(t));
    const gemma3::ModelFile mf = gemma3::ModelFile::open(convert_tiny(tmp, t));
    const gemma3::Weights w = gemma3::bind_weights(mf);
    CHECK(w.text.embed_tokens.rows == 1024);
    CHECK(w.text.embed_tokens.cols == 64);
    CHECK(w.text.embed_tokens.type == t);
    REQUIRE(w.text.layers.size() == 8);
    for (const auto& L : w.text.layers) {
      CHECK(L.q_proj.rows == 128);
      CHECK(L.q_proj.cols == 64);
      CHECK(L.k_proj.rows == 64);
      CHECK(L.o_proj.rows == 64);
      CHECK(L.o_proj.cols == 128);
      CHECK(L.gate_proj.rows == 160);
      CHECK(L.down_proj.cols == 160);
      CHECK(L.q_norm != nullptr);
      CHECK(L.post_feedforward_layernorm != nullptr);
    }
    CHECK(w.text.norm != nullptr);
    CHECK(w.vision.patch_embedding.rows == 48);
    CHECK(w.vision.patch_embedding.cols == 588);
    REQUIRE(w.vision.layers.size() == 2);
    CHECK(w.vision.layers[1].fc1.rows == 112);
    CHECK(w.vision.layers[1].fc2.cols == 112);
    CHECK(w.vision.layers[1].fc2_bias != nullptr);
    CHECK(w.vision.position_embedding != nullptr);
    CHECK(w.projector.mm_input_projection.rows == 64);
    CHECK(w.projector.mm_input_projection.cols == 48);
    CHECK(w.projector.mm_soft_emb_norm != nullptr);
  }
}

TEST_CASE("one enumeration: the table, the binding and validate_weights agree") {
  TempDir tmp;
  const gemma3::ModelFile mf = gemma3::ModelFile::open(convert_tiny(tmp, WeightType::Q8));
  const gemma3::ModelConfig& cfg = mf.config();
  // Every tensor of the table is in the file, in the file's order, with its shape.
  const std::vector<gemma3::TensorSpec> specs = gemma3::tensor_table(cfg);
  REQUIRE(specs.size() == mf.tensors().size());
  for (size_t i = 0; i < specs.size(); ++i) {
    CHECK(specs[i].name == mf.tensors()[i].name);
    CHECK(specs[i].shape == mf.tensors()[i].shape);
  }
  // The binder sets every slot the enumeration yields, at that tensor's data.
  gemma3::Weights w = gemma3::bind_weights(mf);
  size_t seen = 0;
  gemma3::for_each_tensor(cfg, &w, [&](const gemma3::TensorSpec& s, gemma3::TensorSlot slot) {
    const gemma3::TensorEntry* t = mf.find(s.name);
    REQUIRE(t != nullptr);
    CHECK((slot.matrix != nullptr) == (s.storage == gemma3::StorageClass::Matrix));
    CHECK((slot.matrix ? slot.matrix->data : reinterpret_cast<const uint8_t*>(*slot.vector)) ==
          t->data);
    ++seen;
  });
  CHECK(seen == specs.size());
  gemma3::validate_weights(cfg, w);
  // In-memory weights: a missing norm, a wrong shape, a missing layer.
  auto error_of = [&](const gemma3::Weights& bad, gemma3::TensorParts parts) -> std::string {
    try {
      gemma3::validate_weights(cfg, bad, parts);
    } catch (const gemma3::Error& e) {
      return e.what();
    }
    return "no error";
  };
  gemma3::Weights bad = w;
  bad.text.layers[3].k_norm = nullptr;
  CHECK(error_of(bad, gemma3::TensorParts::Text) ==
        "weights: tensor language_model.layers.3.self_attn.k_norm.weight is missing");
  CHECK(error_of(bad, gemma3::TensorParts::Vision) == "no error");  // other part
  bad = w;
  bad.text.layers[0].down_proj.cols = 64;
  CHECK(error_of(bad, gemma3::TensorParts::All) ==
        "weights: tensor language_model.layers.0.mlp.down_proj.weight is [64, 64], the config "
        "implies [64, 160]");
  bad = w;
  bad.text.layers.pop_back();
  CHECK(error_of(bad, gemma3::TensorParts::All) ==
        "weights: 7 decoder layers bound, the config says 8");
}

TEST_CASE("the loader rejects truncated, foreign and wrong-version files") {
  TempDir tmp;
  const auto good = read_bytes(convert_tiny(tmp, WeightType::Q4));
  const uint64_t data_offset = get_le<uint64_t>(good, 32);
  for (size_t len :
       {size_t(0), size_t(7), size_t(8), size_t(63), size_t(64), size_t(65), size_t(1000),
        size_t(data_offset - 1), size_t(data_offset), good.size() / 2, good.size() - 1}) {
    CAPTURE(len);
    const std::vector<uint8_t> cut(good.begin(), good.begin() + long(len));
    expect_reject(tmp, cut, len < 64 ? "not a gemma3 model file" : "truncated or extended");
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  expect_reject(tmp, longer, "truncated or extended");

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                              0,    0,   0,   13,  'I',  'H',  'D',  'R'};
  png.resize(300, 0x42);
  expect_reject(tmp, png, "not a gemma3 model file");

  std::vector<uint8_t> b = good;
  b[3] ^= 0x20;
  expect_reject(tmp, b, "bad magic");
  for (uint32_t v : {0u, 3u}) {
    b = good;
    set_le<uint32_t>(b, 8, v);
    expect_reject(tmp, b, "unsupported format version " + std::to_string(v));
  }
  // Version 1 (before q8/q4 became Q8_0/Q4_0) still loads: its codes are a
  // subset of version 2's and mean the same values. Same bytes, version 1 and
  // its checksum redone: the same tensors.
  b = good;
  set_le<uint32_t>(b, 8, 1);
  const uint64_t meta_size = get_le<uint64_t>(b, 24);
  uint32_t crc = gemma3::detail::crc32(b.data(), 56);
  crc = gemma3::detail::crc32(b.data() + 64, size_t(meta_size), crc);
  set_le<uint32_t>(b, 56, crc);
  const std::string v1 = tmp / "v1.g3";
  write_bytes(v1, b);
  const gemma3::ModelFile old = gemma3::ModelFile::open(v1);
  CHECK(old.format_version() == 1);
  CHECK(std::memcmp(old.matrix("language_model.embed_tokens.weight").data,
                    gemma3::ModelFile::open(convert_tiny(tmp, WeightType::Q4))
                        .matrix("language_model.embed_tokens.weight")
                        .data,
                    64) == 0);
}

TEST_CASE("every flipped byte outside the tensor data is caught at load") {
  TempDir tmp;
  const auto good = read_bytes(convert_tiny(tmp, WeightType::BF16));
  const uint64_t meta = get_le<uint64_t>(good, 24), data_offset = get_le<uint64_t>(good, 32);
  std::vector<size_t> where;
  for (size_t i = 8; i < 64; ++i) where.push_back(i);  // every header byte after the magic
  for (size_t i = 64; i < 64 + meta; i += 97)
    where.push_back(i);                    // config, tokenizer, template, table
  where.push_back(64 + size_t(meta) - 1);  // last table byte
  if (64 + meta < data_offset) where.push_back(size_t(data_offset) - 1);  // padding
  // Padding between tensors: a q4 file has tensors whose size is not a multiple of 64.
  const auto good_q4 = read_bytes(convert_tiny(tmp, WeightType::Q4, "q4.g3"));
  const gemma3::ModelFile mf = gemma3::ModelFile::open(tmp / "q4.g3");
  std::vector<size_t> where_q4;
  for (const auto& t : mf.tensors())
    if (t.size % 64 != 0 && where_q4.size() < 3) where_q4.push_back(size_t(t.offset + t.size));
  CHECK(!where_q4.empty());
  for (size_t i : where_q4) {
    CAPTURE(i);
    std::vector<uint8_t> b = good_q4;
    b[i] ^= 0x01;
    const std::string p = tmp / "flip.g3";
    write_bytes(p, b);
    CHECK_THROWS_WITH_AS(gemma3::ModelFile::open(p), doctest::Contains("non-zero padding"),
                         gemma3::Error);
  }
  for (size_t i : where) {
    CAPTURE(i);
    std::vector<uint8_t> b = good;
    b[i] ^= 0x10;
    const std::string p = tmp / "flip.g3";
    write_bytes(p, b);
    CHECK_THROWS_AS(gemma3::ModelFile::open(p), gemma3::Error);
  }
}

TEST_CASE("tampered tensor data is caught by verify_data") {
  TempDir tmp;
  auto b = read_bytes(convert_tiny(tmp, WeightType::F32));
  const gemma3::ModelFile mf = gemma3::ModelFile::open(tmp / "m.g3");
  const gemma3::TensorEntry* t = mf.find("language_model.layers.3.mlp.up_proj.weight");
  REQUIRE(t != nullptr);
  b[size_t(t->offset + 100)] ^= 1;
  const std::string p = tmp / "tampered.g3";
  write_bytes(p, b);
  CHECK_NOTHROW(gemma3::ModelFile::open(p));  // data is not read unless asked
  gemma3::LoadOptions o;
  o.verify_data = true;
  expect_reject(tmp, b, "language_model.layers.3.mlp.up_proj.weight: data checksum mismatch", o);
}

TEST_CASE("crafted headers and tables (with a valid checksum) are rejected") {
  TempDir tmp;
  const auto good = read_bytes(convert_tiny(tmp, WeightType::F32));
  const std::string q = "language_model.layers.0.self_attn.q_proj.weight";
  const std::string k = "language_model.layers.0.self_attn.k_proj.weight";
  const std::string o = "language_model.layers.0.self_attn.o_proj.weight";
  // Table entry fields after the name: type u32, ndim u32, dims, offset u64, size u64, crc u32.
  auto edit = [&](const std::function<void(std::vector<uint8_t>&)>& f, const std::string& needle) {
    std::vector<uint8_t> b = good;
    f(b);
    fix_crc(b);
    expect_reject(tmp, b, needle);
  };
  auto off_pos = [&](const std::vector<uint8_t>& b, const std::string& n) {
    return table_fields(b, n) + 8 + 16;
  };
  edit([&](auto& b) { set_le<uint64_t>(b, off_pos(b, q), get_le<uint64_t>(b, off_pos(b, q)) + 4); },
       "not 64-byte aligned");
  edit([&](auto& b) { set_le<uint64_t>(b, off_pos(b, q), uint64_t(1) << 62); }, "outside the file");
  edit(
      [&](auto& b) {
        set_le<uint64_t>(b, off_pos(b, q) + 8, get_le<uint64_t>(b, off_pos(b, q) + 8) + 4);
      },
      "does not match f32");
  edit([&](auto& b) { set_le<uint64_t>(b, off_pos(b, k), get_le<uint64_t>(b, off_pos(b, q))); },
       "overlaps");
  edit([&](auto& b) { set_le<uint32_t>(b, table_fields(b, q), 7); }, "unknown type 7");
  edit([&](auto& b) { set_le<uint32_t>(b, table_fields(b, q), 1); }, "does not match bf16");
  // o_proj [64, 128] relabelled [128, 64]: same size, wrong shape for the config.
  edit(
      [&](auto& b) {
        const size_t p = table_fields(b, o) + 8;
        set_le<uint64_t>(b, p, 128);
        set_le<uint64_t>(b, p + 8, 64);
      },
      "the config implies [64, 128]");
  edit([&](auto& b) { std::memcpy(b.data() + table_fields(b, k) - k.size(), q.data(), q.size()); },
       "listed twice");
  edit([&](auto& b) { b[table_fields(b, q) - 13] = 'x'; },
       "unexpected tensor language_model.layers.0.self_attn.x_proj");
  edit([&](auto& b) { set_le<uint32_t>(b, 48, get_le<uint32_t>(b, 48) + 1); },
       "truncated tensor table");
  edit([&](auto& b) { set_le<uint32_t>(b, 48, get_le<uint32_t>(b, 48) - 1); }, "unexplained bytes");
  edit([&](auto& b) { set_le<uint32_t>(b, 44, 0xFFFFFFFFu); }, "piece_count");
  edit([&](auto& b) { set_le<uint32_t>(b, 44, 1u << 23); }, "truncated tokenizer pieces");
  edit([&](auto& b) { set_le<uint32_t>(b, 40, 3); }, "missing");
  edit([&](auto& b) { set_le<uint32_t>(b, 12, 9); }, "weight_type 9");
  edit([&](auto& b) { set_le<uint32_t>(b, 12, 1); }, "expected bf16");
  edit([&](auto& b) { set_le<uint64_t>(b, 24, get_le<uint64_t>(b, 24) + 64); }, "data_offset");
  // A config value: text.num_attention_heads (an i64 after key and kind byte).
  auto cfg_value = [&](const std::vector<uint8_t>& b, const std::string& key) {
    const std::string hay(b.begin() + 64, b.begin() + 64 + 4096);
    const size_t p = hay.find(key);
    REQUIRE(p != std::string::npos);
    return 64 + p + key.size() + 1;
  };
  edit([&](auto& b) { set_le<int64_t>(b, cfg_value(b, "text.num_attention_heads"), 0); },
       "text.num_attention_heads");
  edit([&](auto& b) { set_le<int64_t>(b, cfg_value(b, "text.hidden_size"), -64); },
       "text.hidden_size");
  edit([&](auto& b) { set_le<int64_t>(b, cfg_value(b, "text.hidden_size"), int64_t(1) << 40); },
       "text.hidden_size");
  edit([&](auto& b) { set_le<int64_t>(b, cfg_value(b, "tokens.image"), 5000); }, "tokens.image");
  edit([&](auto& b) { set_le<double>(b, cfg_value(b, "text.rms_norm_eps"), -1.0); },
       "text.rms_norm_eps");
  edit([&](auto& b) { b[cfg_value(b, "has_vision") - 2] = 'm'; }, "has_vision");
  // Changing a shape-defining value makes the table disagree with the config.
  edit([&](auto& b) { set_le<int64_t>(b, cfg_value(b, "text.intermediate_size"), 96); },
       "the config implies");
}

TEST_CASE("the writer refuses incomplete or oversized tensors and leaves no file") {
  TempDir tmp;
  const gemma3::ModelFile mf = gemma3::ModelFile::open(convert_tiny(tmp, WeightType::BF16));
  const std::string out = tmp / "w.g3";
  {
    gemma3::ModelWriter w(out, mf.config(), WeightType::BF16, mf.tokenizer_data(),
                          mf.chat_template());
    std::vector<float> row(64, 0.5f);
    w.write_f32(row.data(), 64);                                  // one row of embed_tokens
    CHECK_THROWS_AS(w.write_f32(row.data(), 10), gemma3::Error);  // not whole rows
    CHECK_THROWS_AS(w.finish(), gemma3::Error);                   // tensors missing
  }
  CHECK(!exists(out));
  CHECK(list_dir(tmp.path).size() == 1);  // only m.g3: the temp file is gone
  CHECK_THROWS_AS(gemma3::ModelWriter(tmp / "no/such/dir/x.g3", mf.config(), WeightType::BF16,
                                      mf.tokenizer_data(), ""),
                  gemma3::Error);
}

TEST_CASE("random damage to metadata (checksum recomputed) never crashes the loader") {
  TempDir tmp;
  const auto good = read_bytes(convert_tiny(tmp, WeightType::Q8));
  const uint64_t meta = get_le<uint64_t>(good, 24);
  std::mt19937 rng(7);
  size_t rejected = 0;
  const int kRounds = 300;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<uint8_t> b = good;
    const int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) b[64 + rng() % meta] ^= uint8_t(1u << (rng() % 8));
    fix_crc(b);
    const std::string p = tmp / "fuzz.g3";
    write_bytes(p, b);
    try {
      gemma3::ModelFile::open(p);
    } catch (const gemma3::Error&) {
      ++rejected;
    }
  }
  // Most flips land in piece texts/scores, which are data; the rest must be errors, not crashes.
  CHECK(rejected > 0);
  CHECK(rejected <= size_t(kRounds));
}
