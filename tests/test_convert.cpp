// Converter tests: byte-identical output from single-file and sharded
// checkpoints, exact round trip (f32/bf16), the q8/q4 error bound, and bad
// checkpoints rejected with a clear error and no output file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "fmt_test_util.hpp"
#include "gemma3/detail/hf_convert.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/weights.hpp"

using namespace fmt_test;
namespace d = gemma3::detail;
using gemma3::WeightType;

namespace {

d::ConvertSummary convert(const std::string& dir, const std::string& out, WeightType t) {
  d::ConvertOptions o;
  o.type = t;
  return d::convert_hf_checkpoint(dir, out, o);
}

// Independent decoding of one stored value (layouts of gemma3/tensor.hpp).
float stored_value(const gemma3::TensorEntry& t, size_t r, size_t c) {
  const size_t cols = t.shape.size() == 2 ? size_t(t.shape[1]) : size_t(gemma3::element_count(t.shape));
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
  std::memcpy(&sh, t.data + gemma3::scales_offset(t.type, rows, cols) + 2 * (r * groups + c / 32), 2);
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
  const d::SafetensorsCheckpoint ck = d::SafetensorsCheckpoint::open_dir(kTiny);
  for (WeightType type : {WeightType::F32, WeightType::BF16}) {
    CAPTURE(gemma3::weight_type_name(type));
    const std::string out = tmp / "m.g3";
    convert(kTiny, out, type);
    const gemma3::ModelFile mf = gemma3::ModelFile::open(out);
    CHECK(mf.weight_type() == type);
    size_t checked = 0;
    for (const gemma3::TensorSpec& s : gemma3::tensor_table(mf.config())) {
      CAPTURE(s.name);
      const d::StTensor* src = ck.find(s.hf_names.front());  // the fixture uses the released names
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
    CHECK(mf.matrix("vision_tower.vision_model.embeddings.patch_embedding.weight").cols == 3 * 14 * 14);
  }
}

// Q8/Q4 bound, per group of 32: scale s = f16(absmax/qmax) and q = round(x/s)
// clamped to ±qmax give |x - q·s| <= s/2 whenever |x/s| <= qmax + 1/2. The f16
// rounding of s can make absmax/s exceed qmax by at most a relative 2^-11, so a
// clamped value errs by <= absmax·2^-11 < s/2 too. Slack for float arithmetic:
// 1e-6·absmax. Groups of zeros have s = 0 and are exact.
TEST_CASE("q8 and q4 stay within the per-group bound s/2") {
  TempDir tmp;
  const d::SafetensorsCheckpoint ck = d::SafetensorsCheckpoint::open_dir(kTiny);
  for (WeightType type : {WeightType::Q8, WeightType::Q4}) {
    CAPTURE(gemma3::weight_type_name(type));
    const int qmax = type == WeightType::Q8 ? 127 : 7;
    const std::string out = tmp / "m.g3";
    convert(kTiny, out, type);
    const gemma3::ModelFile mf = gemma3::ModelFile::open(out);
    double worst_ratio = 0;  // max error / (s/2) over all groups
    size_t groups_checked = 0, violations = 0;
    for (const gemma3::TensorSpec& s : gemma3::tensor_table(mf.config())) {
      const gemma3::TensorEntry* t = mf.find(s.name);
      REQUIRE(t != nullptr);
      if (s.storage == gemma3::StorageClass::Small) {
        CHECK(t->type == WeightType::F32);
        continue;
      }
      CHECK(t->type == type);
      const d::StTensor* src = ck.find(s.hf_names.front());
      std::vector<float> v(size_t(src->numel()));
      ck.read_f32(*src, 0, v.size(), v.data());
      const size_t rows = size_t(t->shape[0]), cols = size_t(t->shape[1]);
      const bool transposed = s.layout == gemma3::SourceLayout::Transpose;
      for (size_t r = 0; r < rows; ++r)
        for (size_t g0 = 0; g0 < cols; g0 += 32) {
          const size_t g1 = std::min(cols, g0 + 32);
          float absmax = 0;
          for (size_t c = g0; c < g1; ++c)
            absmax = std::max(absmax, std::fabs(transposed ? v[c * rows + r] : v[r * cols + c]));
          const float scale = gemma3::f16_to_f32(gemma3::f32_to_f16(absmax / float(qmax)));
          for (size_t c = g0; c < g1; ++c) {
            const float x = transposed ? v[c * rows + r] : v[r * cols + c];
            const float err = std::fabs(x - stored_value(*t, r, c));
            if (err > scale / 2 + 1e-6f * absmax) ++violations;
            if (scale > 0) worst_ratio = std::max(worst_ratio, double(err) / (scale / 2));
          }
          ++groups_checked;
        }
    }
    CHECK(violations == 0);
    CHECK(groups_checked > 1000);
    // The bound is tight: some value lands near the middle between two steps.
    CHECK(worst_ratio > 0.9);
    CHECK(worst_ratio <= 1.0 + 1e-4);
  }
}
