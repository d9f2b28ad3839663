// Converter tests: byte-identical output from single-file and sharded
// checkpoints, exact round trip (f32/bf16), the q8/q4 error bound, and bad
// checkpoints rejected with a clear error and no output file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>

#include "fmt_test_util.hpp"
#include "gemma3/convert/hf_checkpoint.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/weights.hpp"
#include "tool_test_util.hpp"

using namespace fmt_test;
namespace d = gemma3::detail;
namespace cv = gemma3::convert;
using gemma3::WeightType;

namespace {

cv::ConvertSummary convert(const std::string& dir, const std::string& out, WeightType t) {
  cv::ConvertOptions o;
  o.type = t;
  return cv::convert_hf_checkpoint(dir, out, o);
}

// Independent decoding of one stored value (layouts of gemma3/tensor.hpp).
float stored_value(const gemma3::TensorEntry& t, size_t r, size_t c) {
  const size_t cols =
      t.shape.size() == 2 ? size_t(t.shape[1]) : size_t(gemma3::element_count(t.shape));
  const size_t i = r * cols + c;
  switch (t.type) {
    case WeightType::F32: {
      float f;
      std::memcpy(&f, t.data + 4 * i, 4);
      return f;
    }
    case WeightType::BF16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return gemma3::bf16_to_f32(h);
    }
    default: break;
  }
  const size_t rows = size_t(t.shape[0]);
  const size_t groups = (cols + 31) / 32;
  uint16_t sh;
  std::memcpy(&sh, t.data + gemma3::scales_offset(t.type, rows, cols) + 2 * (r * groups + c / 32),
              2);
  const float scale = gemma3::f16_to_f32(sh);
  int q;
  if (t.type == WeightType::Q8) {
    q = int(int8_t(t.data[r * groups * 32 + c]));
  } else {
    const uint8_t b = t.data[r * groups * 16 + (c / 32) * 16 + (c % 32) % 16];
    q = int((c % 32) < 16 ? (b & 15) : (b >> 4)) - 8;
  }
  return float(q) * scale;
}

}  // namespace

TEST_CASE("single-file and sharded checkpoints give byte-identical files, all four types") {
  TempDir tmp;
  for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::Q8, WeightType::Q4}) {
    CAPTURE(gemma3::weight_type_name(t));
    const std::string a = tmp / (std::string("a_") + gemma3::weight_type_name(t));
    const std::string b = tmp / (std::string("b_") + gemma3::weight_type_name(t));
    const auto sa = convert(kTiny, a, t);
    convert(kTinySharded, b, t);
    CHECK(sa.tensors == 145);  // tiny: 1 + 8*13 + 1 text, 3 + 2*16 + 2 vision, 2 projector
    const auto ba = read_bytes(a), bb = read_bytes(b);
    CHECK(ba.size() == sa.bytes);
    CHECK(ba == bb);
  }
  // No temp files left behind.
  CHECK(list_dir(tmp.path).size() == 8);
}

TEST_CASE("f32 and bf16 files hold exactly the checkpoint's values") {
  TempDir tmp;
  const cv::SafetensorsCheckpoint ck = cv::SafetensorsCheckpoint::open_dir(kTiny);
  for (WeightType type : {WeightType::F32, WeightType::BF16}) {
    CAPTURE(gemma3::weight_type_name(type));
    const std::string out = tmp / "m.g3";
    convert(kTiny, out, type);
    const gemma3::ModelFile mf = gemma3::ModelFile::open(out);
    CHECK(mf.weight_type() == type);
    size_t checked = 0;
    for (const gemma3::TensorSpec& s : gemma3::tensor_table(mf.config())) {
      CAPTURE(s.name);
      const cv::StTensor* src = ck.find(s.hf_names.front());  // the fixture uses the released names
      REQUIRE(src != nullptr);
      const gemma3::TensorEntry* t = mf.find(s.name);
      REQUIRE(t != nullptr);
      std::vector<float> v(size_t(src->numel()));
      ck.read_f32(*src, 0, v.size(), v.data());
      const bool transposed = s.name == "multi_modal_projector.mm_input_projection_weight";
      if (transposed) {  // HF [Hv, H] -> ours [H, Hv]
        REQUIRE(src->shape.size() == 2);
        CHECK(t->shape == std::vector<uint64_t>{src->shape[1], src->shape[0]});
      }
      const size_t cols = t->shape.size() == 2 ? size_t(t->shape[1]) : v.size();
      const size_t rows = v.size() / cols;
      size_t bad = 0;
      for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) {
          const float want = transposed ? v[c * rows + r] : v[r * cols + c];
          if (stored_value(*t, r, c) != want) ++bad;
        }
      CHECK(bad == 0);
      ++checked;
    }
    CHECK(checked == 145);
    // The Conv2d weight [Hv, 3, 14, 14] is the matrix [Hv, 588].
    CHECK(mf.matrix("vision_tower.vision_model.embeddings.patch_embedding.weight").cols ==
          3 * 14 * 14);
  }
}

// Q8/Q4 bound, per group of 32 (gemma3/quant.hpp: ggml's Q8_0 / Q4_0 rules):
// |x − q·s| ≤ |d|/2 (Q8) or |d| (Q4, one-sided clamp) plus the f16 rounding of
// the scale (≤ qmax·|d − s|) and float slack 1e-6·absmax. Groups of zeros are
// exact.
TEST_CASE("q8 and q4 stay within the per-group bound") {
  TempDir tmp;
  const cv::SafetensorsCheckpoint ck = cv::SafetensorsCheckpoint::open_dir(kTiny);
  for (WeightType type : {WeightType::Q8, WeightType::Q4}) {
    CAPTURE(gemma3::weight_type_name(type));
    const bool q8 = type == WeightType::Q8;
    const std::string out = tmp / "m.g3";
    convert(kTiny, out, type);
    const gemma3::ModelFile mf = gemma3::ModelFile::open(out);
    double worst_ratio = 0;  // max error / |d| over all groups
    size_t groups_checked = 0, violations = 0;
    for (const gemma3::TensorSpec& s : gemma3::tensor_table(mf.config())) {
      const gemma3::TensorEntry* t = mf.find(s.name);
      REQUIRE(t != nullptr);
      if (s.storage == gemma3::StorageClass::Small) {
        CHECK(t->type == WeightType::F32);
        continue;
      }
      CHECK(t->type == type);
      const cv::StTensor* src = ck.find(s.hf_names.front());
      std::vector<float> v(size_t(src->numel()));
      ck.read_f32(*src, 0, v.size(), v.data());
      const size_t rows = size_t(t->shape[0]), cols = size_t(t->shape[1]);
      const bool transposed = s.layout == gemma3::SourceLayout::Transpose;
      auto at = [&](size_t r, size_t c) { return transposed ? v[c * rows + r] : v[r * cols + c]; };
      for (size_t r = 0; r < rows; ++r)
        for (size_t g0 = 0; g0 < cols; g0 += 32) {
          const size_t g1 = std::min(cols, g0 + 32);
          float absmax = 0;
          for (size_t c = g0; c < g1; ++c) absmax = std::max(absmax, std::fabs(at(r, c)));
          const double d = absmax / (q8 ? 127.0 : 8.0);
          const double s = std::fabs(gemma3::f16_to_f32(gemma3::f32_to_f16(float(d))));
          const double tol =
              (q8 ? 0.5 : 1.0) * d + (q8 ? 127 : 8) * std::fabs(d - s) + 1e-6 * absmax;
          for (size_t c = g0; c < g1; ++c) {
            const double err = std::fabs(double(at(r, c)) - stored_value(*t, r, c));
            if (err > tol) ++violations;
            if (d > 0) worst_ratio = std::max(worst_ratio, err / d);
          }
          ++groups_checked;
        }
    }
    CHECK(violations == 0);
    CHECK(groups_checked > 1000);
    // The bound is reached: Q8 rounds some value near the midpoint; Q4 meets
    // groups whose largest positive value sits near +m, one step past +7·d.
    CHECK(worst_ratio > (q8 ? 0.45 : 0.9));
    CHECK(worst_ratio <= (q8 ? 0.5 : 1.0) + 0.07);
  }
}

namespace {

std::vector<StEntry> load_entries(const std::string& dir) {
  const cv::SafetensorsCheckpoint ck = cv::SafetensorsCheckpoint::open_dir(dir);
  std::vector<StEntry> out;
  for (const auto& t : ck.tensors())
    out.push_back({t.name, t.dtype, t.shape,
                   std::vector<uint8_t>(ck.bytes(t), ck.bytes(t) + (t.end - t.begin))});
  return out;
}

StEntry* entry(std::vector<StEntry>& es, const std::string& name) {
  for (auto& e : es)
    if (e.name == name) return &e;
  FAIL("no entry " << name);
  return nullptr;
}

// Converts `dir` and expects an Error containing `needle`, with nothing left
// in the output directory.
void expect_convert_error(const std::string& dir, const std::string& needle,
                          WeightType t = WeightType::BF16) {
  TempDir out;
  std::string msg;
  try {
    convert(dir, out / "out.g3", t);
  } catch (const gemma3::Error& e) {
    msg = e.what();
  }
  CAPTURE(needle);
  CHECK_MESSAGE(!msg.empty(), "conversion succeeded");
  CHECK_MESSAGE(msg.find(needle) != std::string::npos, msg);
  CHECK(list_dir(out.path).empty());
}

// A copy of the tiny single-file checkpoint whose tensors are `es`.
std::string tiny_variant(const TempDir& tmp, const std::vector<StEntry>& es,
                         const std::string& name = "ck") {
  const std::string dir = tmp / name;
  copy_dir(kTiny, dir);
  write_safetensors(dir + "/model.safetensors", es);
  return dir;
}

}  // namespace

// QAT-like weights: every matrix lies on a Q4_0 grid (per row and 32-group,
// q·d with q in [−8, 7], −8 present, d an f16 with 5 significant bits so that
// q·d is exact in bf16). Converting to q4 reproduces every weight exactly, and
// the stored codes and scales are the grid's.
TEST_CASE("q4 holds a Q4_0 grid exactly: a QAT-like checkpoint converts with zero error") {
  TempDir tmp;
  std::mt19937 rng(77);
  std::vector<StEntry> es = load_entries(kTiny);
  const cv::SafetensorsCheckpoint ck = cv::SafetensorsCheckpoint::open_dir(kTiny);
  // The table of a converted bf16 file gives each tensor's layout and shape.
  convert(kTiny, tmp / "ref.g3", WeightType::BF16);
  const gemma3::ModelFile ref = gemma3::ModelFile::open(tmp / "ref.g3");
  std::map<std::string, std::vector<float>> grid;  // ours: [rows, cols]
  size_t matrices = 0;
  for (const gemma3::TensorSpec& s : gemma3::tensor_table(ref.config())) {
    if (s.storage != gemma3::StorageClass::Matrix) continue;
    const size_t rows = size_t(s.shape[0]), cols = size_t(s.shape[1]);
    std::vector<float> g(rows * cols);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c0 = 0; c0 < cols; c0 += 32) {
        const size_t n = std::min<size_t>(32, cols - c0);
        // d = ±(16…31)·2^(−12…−9): f16-normal, 5 significant bits
        const float d = float(rng() % 2 ? 1 : -1) * float(16 + rng() % 16) *
                        std::ldexp(1.0f, -12 + int(rng() % 4));
        for (size_t k = 0; k < n; ++k) g[r * cols + c0 + k] = float(int(rng() % 16) - 8) * d;
        g[r * cols + c0 + rng() % n] = -8.0f * d;  // the group's extreme
      }
    // written in the checkpoint's layout (bf16, HF orientation)
    StEntry* e = entry(es, s.hf_names.front());
    const bool transposed = s.layout == gemma3::SourceLayout::Transpose;
    REQUIRE(e->bytes.size() == 2 * g.size());
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) {
        const float v = g[r * cols + c];
        const uint16_t h = gemma3::f32_to_bf16(v);
        REQUIRE(gemma3::bf16_to_f32(h) == v);  // the grid is exact in bf16
        const size_t i = transposed ? c * rows + r : r * cols + c;
        e->bytes[2 * i] = uint8_t(h);
        e->bytes[2 * i + 1] = uint8_t(h >> 8);
      }
    grid[s.name] = std::move(g);
    ++matrices;
  }
  CHECK(matrices == 71);  // 8 layers × 7 + embedding, 2 vision layers × 6 + patch + projector
  const std::string dir = tiny_variant(tmp, es, "qat");
  convert(dir, tmp / "q4.g3", WeightType::Q4);
  const gemma3::ModelFile mf = gemma3::ModelFile::open(tmp / "q4.g3");
  size_t bad = 0, values = 0;
  for (const auto& [name, g] : grid) {
    const gemma3::TensorEntry* t = mf.find(name);
    REQUIRE(t != nullptr);
    const size_t rows = size_t(t->shape[0]), cols = size_t(t->shape[1]);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c, ++values) bad += stored_value(*t, r, c) != g[r * cols + c];
  }
  CHECK(values > 500000);
  CHECK(bad == 0);
}

TEST_CASE("bad tensors: missing, unexpected, wrong shape, unsupported dtype") {
  TempDir tmp;
  const auto base = load_entries(kTiny);
  const std::string up = "language_model.model.layers.3.mlp.up_proj.weight";
  const std::string qn = "language_model.model.layers.0.self_attn.q_norm.weight";
  {
    auto es = base;
    es.erase(std::remove_if(es.begin(), es.end(), [&](const StEntry& e) { return e.name == up; }),
             es.end());
    expect_convert_error(tiny_variant(tmp, es, "missing"), "missing tensor " + up);
  }
  {
    auto es = base;
    es.push_back({"language_model.model.layers.3.mlp.extra.weight",
                  "BF16",
                  {4},
                  std::vector<uint8_t>(8, 0)});
    expect_convert_error(tiny_variant(tmp, es, "extra"),
                         "unexpected tensor language_model.model.layers.3.mlp.extra.weight");
  }
  {
    auto es = base;
    StEntry* e = entry(es, qn);
    e->shape = {16};
    e->bytes.resize(32);
    expect_convert_error(tiny_variant(tmp, es, "shape"),
                         qn + " has shape [16], the config implies [32]");
  }
  {
    auto es = base;
    StEntry* e = entry(es, qn);
    e->dtype = "I32";
    e->bytes.resize(32 * 4);
    expect_convert_error(tiny_variant(tmp, es, "dtype"), qn + ": unsupported dtype I32");
  }
  {
    auto es = base;
    entry(es, qn)->dtype = "BF17";
    expect_convert_error(tiny_variant(tmp, es, "dtype2"), "unknown dtype \"BF17\"");
  }
  {  // f16 and f32 sources are accepted and converted exactly
    auto es = base;
    StEntry* e = entry(es, qn);
    std::vector<uint8_t> f32(e->bytes.size() * 2);
    for (size_t i = 0; i < 32; ++i) {
      const float f = gemma3::bf16_to_f32(uint16_t(e->bytes[2 * i] | (e->bytes[2 * i + 1] << 8)));
      std::memcpy(f32.data() + 4 * i, &f, 4);
    }
    e->dtype = "F32";
    e->bytes = f32;
    const std::string dir = tiny_variant(tmp, es, "f32src");
    convert(dir, tmp / "f32src.g3", WeightType::BF16);
    const gemma3::ModelFile mf = gemma3::ModelFile::open(tmp / "f32src.g3");
    CHECK(std::memcmp(mf.f32("language_model.layers.0.self_attn.q_norm.weight", 32), f32.data(),
                      128) == 0);
  }
}

TEST_CASE(
    "bad safetensors files: truncated, malformed header, offsets out of range or overlapping") {
  TempDir tmp;
  const auto base = load_entries(kTiny);
  const auto good = read_bytes(kTiny + "/model.safetensors");
  auto with_file = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string dir = tmp / name;
    copy_dir(kTiny, dir);
    write_bytes(dir + "/model.safetensors", bytes);
    return dir;
  };
  for (size_t cut : {size_t(100), size_t(1), good.size() / 2}) {
    CAPTURE(cut);
    std::vector<uint8_t> b(good.begin(), good.end() - long(cut));
    expect_convert_error(with_file("trunc" + std::to_string(cut), b), "truncated");
  }
  expect_convert_error(with_file("tiny", std::vector<uint8_t>(good.begin(), good.begin() + 5)),
                       "not a safetensors file");
  {
    std::vector<uint8_t> b = good;
    const uint64_t lie = good.size();
    for (int i = 0; i < 8; ++i) b[size_t(i)] = uint8_t(lie >> (8 * i));
    expect_convert_error(with_file("lying", b), "exceeds the file");
  }
  {
    std::vector<uint8_t> b = good;
    b[8] = '#';  // the JSON's opening brace
    expect_convert_error(with_file("badjson", b), "safetensors header");
  }
  const std::string qn = "language_model.model.layers.0.self_attn.q_norm.weight";
  auto header_dir = [&](const std::string& name, const std::string& header) {
    const std::string dir = tmp / name;
    copy_dir(kTiny, dir);
    write_safetensors(dir + "/model.safetensors", base, header);
    return dir;
  };
  expect_convert_error(header_dir("notobj", "[1,2]"), "expected a JSON object");
  expect_convert_error(
      header_dir(
          "range",
          "{\"" + qn + "\":{\"dtype\":\"BF16\",\"shape\":[32],\"data_offsets\":[0,99999999]}}"),
      "lies beyond the data");
  expect_convert_error(
      header_dir("neg",
                 "{\"" + qn + "\":{\"dtype\":\"BF16\",\"shape\":[32],\"data_offsets\":[64,0]}}"),
      "are invalid");
  expect_convert_error(
      header_dir("size",
                 "{\"" + qn + "\":{\"dtype\":\"BF16\",\"shape\":[32],\"data_offsets\":[0,62]}}"),
      "do not match BF16 shape");
  expect_convert_error(
      header_dir("overlap",
                 "{\"a\":{\"dtype\":\"BF16\",\"shape\":[32],\"data_offsets\":[0,64]},"
                 "\"b\":{\"dtype\":\"BF16\",\"shape\":[32],\"data_offsets\":[32,96]}}"),
      "overlap");
  expect_convert_error(
      header_dir("dup",
                 "{\"a\":{\"dtype\":\"BF16\",\"shape\":[32],\"data_offsets\":[0,64]},"
                 "\"a\":{\"dtype\":\"BF16\",\"shape\":[32],\"data_offsets\":[64,128]}}"),
      "listed twice");
  expect_convert_error(
      header_dir(
          "hugedim",
          "{\"a\":{\"dtype\":\"BF16\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,64]}}"),
      "too many elements");
  expect_convert_error(
      header_dir("noshape", "{\"a\":{\"dtype\":\"BF16\",\"data_offsets\":[0,64]}}"),
      "missing field \"shape\"");
}

TEST_CASE("bad sharded checkpoints: truncated shard, inconsistent index") {
  TempDir tmp;
  {
    const std::string dir = tmp / "trunc";
    copy_dir(kTinySharded, dir);
    auto b = read_bytes(dir + "/model-00002-of-00002.safetensors");
    b.resize(b.size() - 10);
    write_bytes(dir + "/model-00002-of-00002.safetensors", b);
    expect_convert_error(dir, "model-00002-of-00002.safetensors");
  }
  {
    const std::string dir = tmp / "index";
    copy_dir(kTinySharded, dir);
    std::string idx = read_text(dir + "/model.safetensors.index.json");
    const std::string from =
        "\"language_model.model.norm.weight\": \"model-00001-of-00002.safetensors\"";
    const std::string to =
        "\"language_model.model.norm.weight\": \"model-00002-of-00002.safetensors\"";
    const std::string from2 =
        "\"language_model.model.norm.weight\": \"model-00002-of-00002.safetensors\"";
    const std::string to2 =
        "\"language_model.model.norm.weight\": \"model-00001-of-00002.safetensors\"";
    size_t p = idx.find(from);
    if (p != std::string::npos) idx.replace(p, from.size(), to);
    else if ((p = idx.find(from2)) != std::string::npos) idx.replace(p, from2.size(), to2);
    REQUIRE(p != std::string::npos);
    write_text(dir + "/model.safetensors.index.json", idx);
    expect_convert_error(dir, "language_model.model.norm.weight\" is not in shard");
  }
  {
    const std::string dir = tmp / "noshard";
    copy_dir(kTinySharded, dir);
    ::unlink((dir + "/model-00001-of-00002.safetensors").c_str());
    expect_convert_error(dir, "model-00001-of-00002.safetensors: cannot open");
  }
  {
    const std::string dir = tmp / "badindex";
    copy_dir(kTinySharded, dir);
    write_text(dir + "/model.safetensors.index.json",
               "{\"weight_map\": {\"a\": \"../etc/passwd\"}}");
    expect_convert_error(dir, "bad shard file name");
  }
  {
    const std::string dir = tmp / "nothing";
    copy_dir(kTiny, dir);
    ::unlink((dir + "/model.safetensors").c_str());
    expect_convert_error(dir, "no model.safetensors");
  }
}

TEST_CASE("bad config, tokenizer and output path") {
  TempDir tmp;
  auto variant = [&](const std::string& name, const std::string& file, const std::string& text) {
    const std::string dir = tmp / name;
    copy_dir(kTiny, dir);
    if (text.empty()) ::unlink((dir + "/" + file).c_str());
    else write_text(dir + "/" + file, text);
    return dir;
  };
  const std::string cfg = read_text(kTiny + "/config.json");
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string c = cfg;
    const size_t p = c.find(from);
    REQUIRE(p != std::string::npos);
    return c.replace(p, from.size(), to);
  };
  expect_convert_error(variant("json", "config.json", cfg + "}"), "config.json");
  expect_convert_error(variant("json2", "config.json", "{\"model_type\": \"gemma3\", }"),
                       "config.json");
  expect_convert_error(variant("nocfg", "config.json", ""), "config.json: missing");
  expect_convert_error(variant("type", "config.json",
                               edited("\"model_type\": \"gemma3\"", "\"model_type\": \"llama\"")),
                       "model_type \"llama\" is not supported");
  expect_convert_error(variant("heads", "config.json",
                               edited("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3")),
                       "text.num_key_value_heads");
  expect_convert_error(
      variant("zero", "config.json", edited("\"hidden_size\": 64", "\"hidden_size\": 0")),
      "text.hidden_size");
  expect_convert_error(
      variant("str", "config.json", edited("\"hidden_size\": 64", "\"hidden_size\": \"64\"")),
      "hidden_size");
  expect_convert_error(variant("act", "config.json", edited("\"gelu_pytorch_tanh\"", "\"relu\"")),
                       "\"relu\" is not supported");
  expect_convert_error(variant("rope", "config.json",
                               edited("\"rope_type\": \"linear\"", "\"rope_type\": \"yarn\"")),
                       "yarn");
  expect_convert_error(
      variant("mm", "config.json",
              edited("\"mm_tokens_per_image\": 16", "\"mm_tokens_per_image\": 15")),
      "mm_tokens_per_image");
  expect_convert_error(
      variant("img", "config.json", edited("\"patch_size\": 14", "\"patch_size\": 15")),
      "is not a multiple of vision.patch_size");
  expect_convert_error(
      variant("pre", "preprocessor_config.json", "{\"size\": {\"height\": 224, \"width\": 224}}"),
      "disagrees with vision_config.image_size");
  expect_convert_error(variant("notok", "tokenizer.model", ""), "tokenizer.model: missing");
  expect_convert_error(variant("badtok", "tokenizer.model", "this is not a protobuf"),
                       "tokenizer.model");
  // Output path that cannot be written.
  std::string msg;
  try {
    convert(kTiny, tmp / "no/such/dir/out.g3", WeightType::BF16);
  } catch (const gemma3::Error& e) {
    msg = e.what();
  }
  CHECK_MESSAGE(msg.find("cannot create output file") != std::string::npos, msg);
}

TEST_CASE("gemma3-convert exits non-zero with 'error: ...' and leaves no file") {
  const std::string exe = std::string(GEMMA3_BINARY_DIR) + "/gemma3-convert";
  REQUIRE_MESSAGE(exists(exe), "build the gemma3-convert target first: " << exe);
  TempDir tmp;
  const std::string err = tmp / "stderr.txt";
  const int rc = std::system(
      (tool_command(exe) + " " + tmp.path + " " + (tmp / "out.g3") + " 2> " + err).c_str());
  CHECK(rc != 0);
  CHECK(read_text(err).rfind("error: ", 0) == 0);
  CHECK(!exists(tmp / "out.g3"));
  const int rc2 = std::system(
      (tool_command(exe) + " " + kTiny + " " + (tmp / "out.g3") + " --type q5 2> " + err).c_str());
  CHECK(rc2 != 0);
  CHECK(read_text(err).find("q5") != std::string::npos);
  const int ok = std::system(
      (tool_command(exe) + " " + kTiny + " " + (tmp / "out.g3") + " --type q8 2> " + err).c_str());
  CHECK(ok == 0);
  CHECK(read_text(err).find("145 tensors") != std::string::npos);
  CHECK(exists(tmp / "out.g3"));
}

// ---- configs other than the fixture's ------------------------------------------------

namespace {

// A checkpoint directory for `config_json` with random bf16 tensors named by
// variant `name_variant` of each table entry (0 = released, 1 = newer HF,
// 2 = text-only "model.*"), plus the tiny tokenizer files.
std::string make_checkpoint(const TempDir& tmp, const std::string& name,
                            const std::string& config_json, size_t name_variant,
                            std::vector<StEntry> extra = {}) {
  const std::string dir = tmp / name;
  ::mkdir(dir.c_str(), 0755);
  write_text(dir + "/config.json", config_json);
  write_bytes(dir + "/tokenizer.model", read_bytes(kTiny + "/tokenizer.model"));
  write_bytes(dir + "/tokenizer_config.json", read_bytes(kTiny + "/tokenizer_config.json"));
  gemma3::ModelConfig cfg = cv::resolve_hf_config(config_json, "config.json");
  std::mt19937 rng(1234);
  std::vector<StEntry> es;
  for (const auto& s : gemma3::tensor_table(cfg)) {
    REQUIRE(name_variant < s.hf_names.size());
    es.push_back({s.hf_names[name_variant], "BF16", s.hf_shape,
                  random_bf16(size_t(gemma3::element_count(s.hf_shape)), rng)});
  }
  for (auto& e : extra) es.push_back(std::move(e));
  write_safetensors(dir + "/model.safetensors", es);
  return dir;
}

}  // namespace

TEST_CASE("a held-out config is honoured: sizes, heads, window, pattern all from config.json") {
  TempDir tmp;
  const std::string cfg =
      "{\"model_type\": \"gemma3\", \"boi_token_index\": 900, \"eoi_token_index\": 901, "
      "\"image_token_index\": 960,"
      " \"eos_token_id\": [1, 5], \"mm_tokens_per_image\": 4,"
      " \"text_config\": {\"hidden_size\": 48, \"num_hidden_layers\": 3, \"num_attention_heads\": "
      "2,"
      "   \"num_key_value_heads\": 1, \"head_dim\": 16, \"intermediate_size\": 96, \"vocab_size\": "
      "1024,"
      "   \"sliding_window\": 5, \"sliding_window_pattern\": 2, \"query_pre_attn_scalar\": 16, "
      "\"rope_scaling\": null,"
      "   \"max_position_embeddings\": 512},"
      " \"vision_config\": {\"hidden_size\": 32, \"num_hidden_layers\": 1, "
      "\"num_attention_heads\": 2,"
      "   \"intermediate_size\": 40, \"image_size\": 56, \"patch_size\": 14}}";
  const std::string dir =
      make_checkpoint(tmp, "held", cfg, 1);  // newer "model.language_model.*" names
  convert(dir, tmp / "held.g3", WeightType::F32);
  const gemma3::ModelFile mf = gemma3::ModelFile::open(tmp / "held.g3");
  const gemma3::ModelConfig& c = mf.config();
  CHECK(c.text.num_hidden_layers == 3);
  CHECK(c.text.sliding_window == 5);
  CHECK(c.text.layer_is_global == std::vector<bool>{false, true, false});
  CHECK(c.text.rope_scaling_factor == 1.0);
  CHECK(c.text.max_position_embeddings == 512);
  CHECK(c.text.rope_theta == 1e6);  // class default
  CHECK(c.vision.image_size == 56);
  CHECK(c.pooling_kernel() == 2);
  const gemma3::Weights w = gemma3::bind_weights(mf);
  REQUIRE(w.text.layers.size() == 3);
  CHECK(w.text.embed_tokens.rows == 1024);
  CHECK(w.text.embed_tokens.cols == 48);
  CHECK(w.text.layers[2].q_proj.rows == 32);
  CHECK(w.text.layers[2].k_proj.rows == 16);
  CHECK(w.text.layers[2].o_proj.rows == 48);
  CHECK(w.text.layers[2].o_proj.cols == 32);
  CHECK(w.text.layers[2].down_proj.cols == 96);
  REQUIRE(w.vision.layers.size() == 1);
  CHECK(w.vision.layers[0].fc1.rows == 40);
  CHECK(w.vision.patch_embedding.rows == 32);
  CHECK(w.vision.patch_embedding.cols == 588);
  CHECK(w.projector.mm_input_projection.rows == 48);
  CHECK(w.projector.mm_input_projection.cols == 32);
  CHECK(mf.f32("vision_tower.vision_model.embeddings.position_embedding.weight", 16 * 32) !=
        nullptr);
  // The non-square projector is transposed: ours[r][c] == HF[c][r].
  const cv::SafetensorsCheckpoint ck = cv::SafetensorsCheckpoint::open_dir(dir);
  const cv::StTensor* p = ck.find("model.multi_modal_projector.mm_input_projection_weight");
  REQUIRE(p != nullptr);
  std::vector<float> hf(32 * 48);
  ck.read_f32(*p, 0, hf.size(), hf.data());
  const float* ours = reinterpret_cast<const float*>(w.projector.mm_input_projection.data);
  size_t bad = 0;
  for (size_t r = 0; r < 48; ++r)
    for (size_t col = 0; col < 32; ++col) bad += ours[r * 32 + col] != hf[col * 48 + r];
  CHECK(bad == 0);
}

TEST_CASE("text-only checkpoints: model.* names, tied lm_head accepted only when equal") {
  TempDir tmp;
  const std::string cfg =
      "{\"model_type\": \"gemma3_text\", \"hidden_size\": 32, \"num_hidden_layers\": 2, "
      "\"num_attention_heads\": 2,"
      " \"num_key_value_heads\": 2, \"head_dim\": 8, \"intermediate_size\": 64, \"vocab_size\": "
      "1024,"
      " \"layer_types\": [\"full_attention\", \"sliding_attention\"], \"eos_token_id\": [1, 5]}";
  // lm_head equal to the embedding: the generator below makes the same bytes from the same seed.
  std::mt19937 rng(1234);
  const StEntry head{"lm_head.weight", "BF16", {1024, 32}, random_bf16(1024 * 32, rng)};
  const std::string dir = make_checkpoint(tmp, "text", cfg, 2, {head});
  convert(dir, tmp / "text.g3", WeightType::BF16);
  const gemma3::ModelFile mf = gemma3::ModelFile::open(tmp / "text.g3");
  CHECK(!mf.config().has_vision);
  CHECK(mf.config().text.layer_is_global == std::vector<bool>{true, false});
  CHECK(mf.tensors().size() == 1 + 2 * 13 + 1);
  const gemma3::Weights w = gemma3::bind_weights(mf);
  CHECK(w.vision.layers.empty());
  CHECK(w.projector.mm_input_projection.data == nullptr);

  StEntry other = head;
  other.bytes[0] ^= 1;
  expect_convert_error(make_checkpoint(tmp, "untied", cfg, 2, {other}),
                       "untied LM heads are not supported");
  const StEntry vis{
      "vision_tower.vision_model.post_layernorm.bias", "BF16", {4}, std::vector<uint8_t>(8)};
  expect_convert_error(make_checkpoint(tmp, "stray", cfg, 2, {vis}),
                       "config.json describes a text-only model");
}

TEST_CASE("random damage to a safetensors header gives an Error or a valid parse, never a crash") {
  const auto good = read_bytes(kTiny + "/model.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | good[size_t(i)];
  std::mt19937 rng(11);
  size_t rejected = 0;
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> b = good;
    const int flips = 1 + int(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % 3 == 0 ? rng() % 8 : 8 + rng() % n;
      b[at] = uint8_t(rng());
    }
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    try {
      const auto ts = cv::parse_safetensors(b.data(), b.size(), "fuzz");
      for (const auto& t : ts) CHECK(t.end <= b.size());
    } catch (const gemma3::Error&) {
      ++rejected;
    }
  }
  CHECK(rejected > 1000);
}
