// tests/big_endian/big_endian_test.cpp — what the library does with its
// little-endian files on the host it runs on; scripts/test-big-endian.sh builds
// it natively and for s390x (big-endian, run under qemu-s390x).
//
//   big_endian_test MODEL.g3
//
// MODEL.g3 is a model file written by a little-endian gemma3-convert; the test
// data is read from GEMMA3_TEST_DATA_DIR (set by the script). On a big-endian host
// every loader/writer of a little-endian binary format must refuse with
// "<file>: big-endian hosts are not supported (the format is little-endian)"
// and leave no file behind; the SentencePiece reader assembles its values byte
// by byte, so there it must load and encode exactly as on a little-endian host.
// On a little-endian host the same calls must succeed. Only headers without
// Highway/libjpeg/stb in their include closure are used, so a bare cross
// compiler builds this. The last line is "N passed, N failed".
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gemma3/detail/endian.hpp"
#include "gemma3/convert/hf_checkpoint.hpp"
#include "gemma3/json.hpp"
#include "gemma3/convert/npy.hpp"
#include "gemma3/convert/safetensors.hpp"
#include "gemma3/error.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/model_writer.hpp"
#include "gemma3/tokenizer.hpp"
#include "tests/fmt_test_util.hpp"

namespace {

namespace d = gemma3::detail;
namespace cv = gemma3::convert;

int g_passed = 0, g_failed = 0;

void check(bool ok, const std::string& what, const std::string& detail = "") {
  (ok ? g_passed : g_failed)++;
  std::printf("%s: %s%s%s\n", ok ? "PASS" : "FAIL", what.c_str(), detail.empty() ? "" : " -- ",
              detail.c_str());
  std::fflush(stdout);
}

std::string be_message(const std::string& file) {
  return file + ": big-endian hosts are not supported (the format is little-endian)";
}

// Runs f; on a big-endian host it must throw gemma3::Error with exactly the
// big-endian message for `file`, on a little-endian host it must not throw.
template <class F>
void expect_be_refusal(bool little, const std::string& what, const std::string& file, F f) {
  try {
    f();
    check(little, what + (little ? ": works" : ": refused"),
          little ? "" : "no exception on a big-endian host");
  } catch (const gemma3::Error& e) {
    const bool ok = !little && std::string(e.what()) == be_message(file);
    check(ok, what + (little ? ": works" : ": refused"), std::string("gemma3::Error: ") + e.what());
  } catch (const std::exception& e) {
    check(false, what, std::string("unexpected exception: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.g3\n", argv[0]);
    return 2;
  }
  using fmt_test::list_dir;
  const std::string model = argv[1];
  const std::string data = GEMMA3_TEST_DATA_DIR;
  const std::string& tiny_dir = fmt_test::kTiny;
  const std::string tok_path = data + "/tokenizer/tokenizer.model";
  const std::string golden_path = data + "/tokenizer/golden_dev.jsonl";
  const fmt_test::TempDir tmp_dir;  // removed with its files at exit
  if (tmp_dir.path.empty()) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string& tmp = tmp_dir.path;

  const bool little = d::is_little_endian();
  std::printf("host: %s-endian (compiler says %s)\n", little ? "little" : "big",
              __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "little" : "big");
  check(little == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__),
        "detail::is_little_endian() agrees with __BYTE_ORDER__");

  // (a) model file: ModelFile::open refuses / loads.
  expect_be_refusal(little, "ModelFile::open(" + model + ")", model, [&] {
    const gemma3::ModelFile mf = gemma3::ModelFile::open(model, gemma3::LoadOptions{true});
    if (mf.tensors().empty() || mf.tokenizer_pieces().empty())
      throw std::runtime_error("model file has no tensors/pieces");
  });

  // ModelWriter refuses / round-trips the model file.
  const std::string rewritten = tmp + "/rewritten.g3";
  expect_be_refusal(little, "ModelWriter(" + rewritten + ")", rewritten, [&] {
    if (!little) {  // the big-endian host cannot read a config from the model file; the check comes
                    // first anyway
      gemma3::ModelWriter w(rewritten, gemma3::ModelConfig{}, gemma3::WeightType::F32,
                            gemma3::TokenizerData{}, "");
      return;
    }
    const gemma3::ModelFile mf = gemma3::ModelFile::open(model);
    gemma3::ModelWriter w(rewritten, mf.config(), mf.weight_type(), mf.tokenizer_data(),
                          mf.chat_template());
    for (const auto& s : w.specs()) {
      const gemma3::TensorEntry* t = mf.find(s.name);
      if (t == nullptr) throw std::runtime_error("tensor " + s.name + " missing");
      w.write_bytes(t->data, size_t(t->size));
    }
    w.finish();
    const gemma3::ModelFile back = gemma3::ModelFile::open(rewritten, gemma3::LoadOptions{true});
    if (back.file_size() != mf.file_size() || back.tensors().size() != mf.tensors().size())
      throw std::runtime_error("rewritten model file differs");
  });
  if (!little) check(list_dir(tmp).empty(), "ModelWriter refused before creating any file");
  std::remove(rewritten.c_str());

  // (c) safetensors: the checkpoint reader refuses / reads values.
  const std::string st_file = tiny_dir + "/model.safetensors";
  expect_be_refusal(little, "SafetensorsCheckpoint::open_dir(" + tiny_dir + ")", st_file, [&] {
    const cv::SafetensorsCheckpoint ck = cv::SafetensorsCheckpoint::open_dir(tiny_dir);
    if (ck.tensors().empty()) throw std::runtime_error("no tensors");
    const cv::StTensor& t = ck.tensors().front();
    std::vector<float> v(size_t(t.numel()));
    ck.read_f32(t, 0, v.size(), v.data());
    for (float x : v)
      if (!std::isfinite(x)) throw std::runtime_error("non-finite value in " + t.name);
  });

  // The converter (safetensors in, model file out) refuses / converts.
  const std::string converted = tmp + "/converted.g3";
  expect_be_refusal(little, "convert_hf_checkpoint(" + tiny_dir + ")", st_file, [&] {
    cv::ConvertOptions opt;
    opt.type = gemma3::WeightType::F32;
    cv::convert_hf_checkpoint(tiny_dir, converted, opt);
    gemma3::ModelFile::open(converted, gemma3::LoadOptions{true});
  });
  if (!little)
    check(list_dir(tmp).empty(), "convert_hf_checkpoint refused before creating any file");
  std::remove(converted.c_str());

  // npy writer refuses / writes little-endian float32.
  const std::string npy = tmp + "/x.npy";
  expect_be_refusal(little, "write_npy_f32(" + npy + ")", npy, [&] {
    const float x[2] = {1.0f, -2.0f};
    cv::write_npy_f32(npy, x, {2});
    const std::string b = d::read_file_bytes(npy);
    const size_t data_at = b.size() < 10 ? 0 : 10 + (uint8_t(b[8]) | size_t(uint8_t(b[9])) << 8);
    if (b.compare(0, 6, "\x93NUMPY") != 0 || data_at % 64 != 0 || b.size() != data_at + 8 ||
        b.compare(data_at, 8, std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8)) != 0)
      throw std::runtime_error(
          "unexpected .npy bytes (want 1.0f, -2.0f as little-endian <f4 after the header)");
  });
  if (!little) check(list_dir(tmp).empty(), "write_npy_f32 refused before creating any file");
  std::remove(npy.c_str());

  // (b) tokenizer.model: endian-neutral reader; loads and encodes the golden
  // corpus to SentencePiece's ids on either host.
  try {
    const gemma3::Tokenizer tok = gemma3::Tokenizer::load(tok_path);
    check(tok.vocab_size() == 262144, "Tokenizer::load(" + tok_path + ") loads 262144 pieces",
          std::to_string(tok.vocab_size()));
    // The scores on their own: BPE pieces are scored by merge rank, so every
    // normal piece's score is a whole number <= 0, falling with the id (a
    // byte-swapped float would be a tiny or huge non-integer).
    size_t normal = 0, bad = 0;
    float prev = 0.0f;
    for (const auto& pc : tok.pieces()) {
      if (pc.type != gemma3::PieceType::Normal) continue;
      ++normal;
      if (!(pc.score <= prev) || std::floor(pc.score) != pc.score) ++bad;
      prev = pc.score;
    }
    check(normal > 200000 && bad == 0, "tokenizer.model scores: whole numbers <= 0, non-increasing",
          std::to_string(bad) + " of " + std::to_string(normal) + " normal pieces out of order");
    const std::string golden = d::read_file_bytes(golden_path);
    size_t lines = 0, same = 0, pos = 0;
    std::string first_diff;
    while (pos < golden.size()) {
      size_t nl = golden.find('\n', pos);
      if (nl == std::string::npos) nl = golden.size();
      const std::string_view line(golden.data() + pos, nl - pos);
      pos = nl + 1;
      if (line.empty()) continue;
      const gemma3::json::Value v = gemma3::json::parse(line, golden_path);
      std::vector<int> want;
      for (const auto& id : gemma3::json::get(v, "ids", golden_path).as_array())
        want.push_back(int(id.as_int()));
      const std::vector<int> got = tok.encode(gemma3::json::get_string(v, "text", golden_path));
      ++lines;
      if (got == want) ++same;
      else if (first_diff.empty()) first_diff = gemma3::json::get_string(v, "id", golden_path);
    }
    check(lines == 295 && same == lines, "encode() matches all golden_dev.jsonl ids",
          std::to_string(same) + "/" + std::to_string(lines) +
              (first_diff.empty() ? "" : ", first diff " + first_diff));
  } catch (const std::exception& e) {
    check(false, "tokenizer.model loads and encodes", e.what());
  }

  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
