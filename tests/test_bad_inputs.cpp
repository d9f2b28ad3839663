// The bad-input catalogue (issue 7): hostile files and API misuse, each with
// the error expected. Items other tests already cover are listed, with their
// test, in docs/robustness.md; this file holds the rest, the resource-limit
// checks (a claimed size never drives an allocation) and one regression test
// per fuzzer finding (inputs in tests/data/regressions/).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <csignal>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "fmt_test_util.hpp"
#include "gemma3/detail/crc32.hpp"
#include "gemma3/convert/hf_checkpoint.hpp"
#include "gemma3/convert/safetensors.hpp"
#include "gemma3/image.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/model_writer.hpp"
#include "gemma3/session.hpp"
#include "gemma3/tokenizer.hpp"

// ---- allocation probe ----------------------------------------------------------
// Replaces the global operator new of this test program to record, while a
// probe is active, the largest single request and the total requested. (stb_image
// allocates with malloc and is not seen; its limits are checked before decoding.)
namespace {
std::atomic<bool> g_probe_on{false};
std::atomic<size_t> g_probe_max{0}, g_probe_total{0};
}  // namespace

// (malloc/free underneath: g++ cannot see that the pair matches.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  if (g_probe_on.load(std::memory_order_relaxed)) {
    size_t m = g_probe_max.load(std::memory_order_relaxed);
    while (n > m && !g_probe_max.compare_exchange_weak(m, n)) {
    }
    g_probe_total.fetch_add(n, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

using namespace fmt_test;
namespace d = gemma3::detail;
namespace cv = gemma3::convert;
using gemma3::WeightType;

struct AllocProbe {
  AllocProbe() {
    g_probe_max = 0;
    g_probe_total = 0;
    g_probe_on = true;
  }
  ~AllocProbe() { g_probe_on = false; }
  size_t max_single() const { return g_probe_max.load(); }
  size_t total() const { return g_probe_total.load(); }
};

// The message of the gemma3::Error `f` throws ("" if it throws nothing).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const gemma3::Error& e) {
    return e.what();
  }
  return "";
}
#define CHECK_ERROR_CONTAINS(msg, needle)                                               \
  do {                                                                                  \
    const std::string m_ = (msg);                                                       \
    CHECK_MESSAGE(!m_.empty(), "accepted, expected an error containing: " << (needle)); \
    CHECK_MESSAGE(m_.find(needle) != std::string::npos, m_);                            \
  } while (0)

const std::string kRegressions = std::string(GEMMA3_TEST_DATA_DIR) + "/regressions/";

// Offset of the value of config entry `key` (after key bytes and the kind byte).
size_t cfg_value(const std::vector<uint8_t>& b, const std::string& key) {
  const uint64_t meta = get_le<uint64_t>(b, 24);
  const std::string hay(b.begin() + 64, b.begin() + 64 + long(meta));
  const std::string k =
      std::string(1, char(key.size())) + std::string(1, '\0') + key;  // u16 length + key
  const size_t p = hay.find(k);
  REQUIRE_MESSAGE(p != std::string::npos, key);
  return 64 + p + k.size() + 1;
}

// The tiny checkpoint converted once per test run (f32: simple byte edits).
const std::vector<uint8_t>& tiny_file_bytes() {
  static const std::vector<uint8_t> bytes = [] {
    TempDir tmp;
    cv::ConvertOptions o;
    o.type = WeightType::F32;
    cv::convert_hf_checkpoint(kTiny, tmp / "m.g3", o);
    return read_bytes(tmp / "m.g3");
  }();
  return bytes;
}

std::string open_error(const TempDir& tmp, const std::vector<uint8_t>& bytes) {
  const std::string p = tmp / "bad.g3";
  write_bytes(p, bytes);
  return error_of([&] { gemma3::ModelFile::open(p); });
}

// ---- SentencePiece ModelProto writer (for tokenizer.model files) --------------
std::string varint(uint64_t v) {
  std::string s;
  for (; v >= 0x80; v >>= 7) s += char(0x80 | (v & 0x7F));
  return s + char(v);
}
std::string field_bytes(int f, const std::string& b) {
  return varint(uint64_t(f) << 3 | 2) + varint(b.size()) + b;
}
std::string field_varint(int f, uint64_t v) { return varint(uint64_t(f) << 3) + varint(v); }
std::string sentencepiece_proto(const gemma3::TokenizerData& t) {
  std::string out;
  for (const auto& p : t.pieces) {
    std::string m = field_bytes(1, p.text) + char(2 << 3 | 5);
    uint32_t u;
    std::memcpy(&u, &p.score, 4);
    for (int i = 0; i < 4; ++i) m += char(u >> (8 * i));
    out += field_bytes(1, m + field_varint(3, uint64_t(p.type)));
  }
  out += field_bytes(2, field_varint(3, 2) + field_varint(35, t.options.byte_fallback ? 1 : 0));
  out += field_bytes(3, field_bytes(1, "identity") + field_varint(3, 0) + field_varint(4, 0));
  return out;
}

gemma3::TokenizerData tiny_tokenizer_data() {
  return d::parse_sentencepiece_model(read_text(kTiny + "/tokenizer.model"), "tokenizer.model");
}

// A copy of the tiny model file with another tokenizer (same tensors).
void rewrite_with_tokenizer(const std::string& from, const std::string& to,
                            const gemma3::TokenizerData& tok) {
  const gemma3::ModelFile mf = gemma3::ModelFile::open(from);
  gemma3::ModelWriter w(to, mf.config(), mf.weight_type(), tok, mf.chat_template());
  for (const auto& s : w.specs()) {
    const gemma3::TensorEntry* t = mf.find(s.name);
    REQUIRE(t != nullptr);
    w.write_bytes(t->data, size_t(t->size));
  }
  w.finish();
}

}  // namespace

// ---- model file ------------------------------------------------------------------
// (truncation, flipped bytes, magic/version, tables past the end or overlapping,
// and several config values: tests/test_model_file.cpp)

TEST_CASE("bad model file: zero, negative, absurd and inconsistent config values name the field") {
  TempDir tmp;
  const auto& good = tiny_file_bytes();
  struct Case {
    const char* key;
    int64_t value;
    const char* needle;
  };
  const Case cases[] = {
      {"text.num_key_value_heads", 3,
       "text.num_key_value_heads = 3 does not divide num_attention_heads = 4"},
      {"vision.num_attention_heads", 5,
       "vision.num_attention_heads = 5 does not divide vision.hidden_size = 48"},
      {"text.sliding_window", 2048,
       "text.sliding_window = 2048 is larger than the context, max_position_embeddings = 1024"},
      {"text.max_position_embeddings", 8, "text.sliding_window = 16 is larger than the context"},
      {"text.vocab_size", 0, "config text.vocab_size = 0 is out of range"},
      {"text.num_hidden_layers", int64_t(1) << 30,
       "config text.num_hidden_layers = 1073741824 is out of range"},
      {"text.intermediate_size", int64_t(1) << 40,
       "config text.intermediate_size: value out of int range"},
      {"vision.patch_size", -14, "config vision.patch_size = -14 is out of range"},
      {"vision.image_size", 113,
       "vision.image_size = 113 is not a multiple of vision.patch_size = 14"},
      {"text.head_dim", 33, "text.head_dim must be even"},
      {"mm_tokens_per_image", 15, "mm_tokens_per_image"},
      {"tokens.bos", -1, "config tokens.bos = -1 is out of range"},
      {"tokens.eoi", 1024, "config tokens.eoi = 1024 is out of range [0, 1023]"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    std::vector<uint8_t> b = good;
    set_le<int64_t>(b, cfg_value(b, c.key), c.value);
    fix_crc(b);
    const std::string msg = open_error(tmp, b);
    CHECK_ERROR_CONTAINS(msg, c.needle);
    CHECK_ERROR_CONTAINS(msg, tmp / "bad.g3");
  }
  // Non-finite and negative floats.
  for (const char* key :
       {"text.rope_theta", "vision.layer_norm_eps", "preprocess.rescale_factor"}) {
    for (double v : {0.0, -1.0, std::nan(""), 1e300 * 1e10}) {
      CAPTURE(key);
      CAPTURE(v);
      std::vector<uint8_t> b = good;
      set_le<double>(b, cfg_value(b, key), v);
      fix_crc(b);
      CHECK_ERROR_CONTAINS(open_error(tmp, b), std::string("config ") + key);
    }
  }
}

TEST_CASE(
    "bad model file: header counts and lengths cannot make the loader allocate more than the "
    "file") {
  TempDir tmp;
  const auto& good = tiny_file_bytes();
  const size_t fsize = good.size();
  auto edited = [&](const std::function<void(std::vector<uint8_t>&)>& f) {
    std::vector<uint8_t> b = good;
    f(b);
    if (get_le<uint64_t>(b, 24) <= b.size() - 64)
      fix_crc(b);  // (meta_size is checked before the CRC)
    return b;
  };
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    const char* needle;
  };
  // Header: config_count @40, piece_count @44, tensor_count @48 (docs/format.md).
  const std::vector<Case> cases = {
      {"piece_count 2^24 (the limit)", edited([](auto& b) { set_le<uint32_t>(b, 44, 1u << 24); }),
       "truncated tokenizer pieces"},
      {"piece_count 2^32-1", edited([](auto& b) { set_le<uint32_t>(b, 44, 0xFFFFFFFFu); }),
       "header field piece_count 4294967295 is too large"},
      {"tensor_count 2^20 (the limit)", edited([](auto& b) { set_le<uint32_t>(b, 48, 1u << 20); }),
       "truncated tensor table"},
      {"tensor_count 2^32-1", edited([](auto& b) { set_le<uint32_t>(b, 48, 0xFFFFFFFFu); }),
       "header field tensor_count 4294967295 is too large"},
      {"config_count 2^32-1", edited([](auto& b) { set_le<uint32_t>(b, 40, 0xFFFFFFFFu); }),
       "header field config_count 4294967295 is too large"},
      {"meta_size 2^62", edited([](auto& b) { set_le<uint64_t>(b, 24, uint64_t(1) << 62); }),
       "header field meta_size 4611686018427387904 exceeds the file"},
      // The list length of text.layer_is_global (a bool list: u32 count after the kind byte).
      {"bool list of 2^32-1 entries", edited([](auto& b) {
         set_le<uint32_t>(b, cfg_value(b, "text.layer_is_global"), 0xFFFFFFFFu);
       }),
       "truncated config text.layer_is_global"},
      {"int list of 2^32-1 entries",
       edited([](auto& b) { set_le<uint32_t>(b, cfg_value(b, "tokens.stop"), 0xFFFFFFFFu); }),
       "truncated config tokens.stop"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string p = tmp / "bad.g3";
    write_bytes(p, c.bytes);
    std::string msg;
    size_t max_single = 0, total = 0;
    {
      AllocProbe probe;
      msg = error_of([&] { gemma3::ModelFile::open(p); });
      max_single = probe.max_single();
      total = probe.total();
    }
    CHECK_ERROR_CONTAINS(msg, c.needle);
    // The claims above would need gigabytes; the loader stays far below the file size.
    CHECK_MESSAGE(max_single < fsize / 4,
                  "largest allocation " << max_single << " bytes, file " << fsize);
    CHECK_MESSAGE(total < 2 * fsize, "allocated " << total << " bytes in all, file " << fsize);
  }
  // A good file: allocations are bounded by the file too (pieces, names, table).
  {
    const std::string p = tmp / "good.g3";
    write_bytes(p, good);
    AllocProbe probe;
    CHECK_NOTHROW(gemma3::ModelFile::open(p));
    CHECK(probe.max_single() < fsize);
  }
}

TEST_CASE("bad model file: a stored tokenizer with duplicate or empty pieces is refused by Model") {
  TempDir tmp;
  write_bytes(tmp / "m.g3", tiny_file_bytes());
  gemma3::TokenizerData dup = tiny_tokenizer_data();
  dup.pieces[700].text = dup.pieces[600].text;
  rewrite_with_tokenizer(tmp / "m.g3", tmp / "dup.g3", dup);
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::Model m(tmp / "dup.g3"); }),
                       "\" appears twice (ids 600 and 700)");
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_tokenizer_from_model_file(tmp / "dup.g3"); }),
                       tmp / "dup.g3");
  gemma3::TokenizerData empty = tiny_tokenizer_data();
  empty.pieces[500].text.clear();
  rewrite_with_tokenizer(tmp / "m.g3", tmp / "empty.g3", empty);
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::Model m(tmp / "empty.g3"); }), "piece 500 is empty");
}

// ---- converter: config.json -------------------------------------------------------
// (heads, zero, strings, unsupported keys, bad tensors and safetensors files:
// tests/test_convert.cpp, tests/test_hf_config.cpp)

TEST_CASE(
    "bad config.json for the converter: inconsistent and absurd values, no output file left") {
  TempDir tmp;
  const std::string cfg = read_text(kTiny + "/config.json");
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string c = cfg;
    const size_t p = c.find(from);
    REQUIRE_MESSAGE(p != std::string::npos, from);
    return c.replace(p, from.size(), to);
  };
  struct Case {
    std::string json, needle;
  };
  const std::vector<Case> cases = {
      {edited("\"sliding_window\": 16", "\"sliding_window\": 4096"),
       "config.json: config text.sliding_window = 4096 is larger than the context, "
       "max_position_embeddings = 1024"},
      {edited("\"num_attention_heads\": 4", "\"num_attention_heads\": 3"),
       "does not divide num_attention_heads = 3"},
      {edited("\"num_hidden_layers\": 8", "\"num_hidden_layers\": 100000"),
       "text.num_hidden_layers = 100000 is out of range"},
      {edited("\"num_hidden_layers\": 8", "\"num_hidden_layers\": -8"), "text.num_hidden_layers"},
      {edited("\"vocab_size\": 1024", "\"vocab_size\": 1e300"), "vocab_size: expected an integer"},
      {edited("\"max_position_embeddings\": 1024", "\"max_position_embeddings\": 0"),
       "text.max_position_embeddings = 0 is out of range"},
      {edited("\"head_dim\": 32", "\"head_dim\": 99999999999"),
       "head_dim: value 99999999999 is out of range"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(cases[i].needle);
    const std::string dir = tmp / ("ck" + std::to_string(i));
    copy_dir(kTiny, dir);
    write_text(dir + "/config.json", cases[i].json);
    const std::string out_dir = tmp / ("out" + std::to_string(i));
    ::mkdir(out_dir.c_str(), 0755);
    cv::ConvertOptions o;
    o.type = WeightType::Q4;
    CHECK_ERROR_CONTAINS(error_of([&] { cv::convert_hf_checkpoint(dir, out_dir + "/m.g3", o); }),
                         cases[i].needle);
    CHECK(list_dir(out_dir).empty());  // neither the output nor a temp file
  }
}

TEST_CASE("converter: a failure while writing tensors (disk full) leaves no file behind") {
  // RLIMIT_FSIZE makes write() fail with EFBIG part-way through the tensors, as
  // a full disk would; the temp file must be removed.
  TempDir tmp;
  const std::string out_dir = tmp / "out";
  ::mkdir(out_dir.c_str(), 0755);
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  rlimit lim = old;
  lim.rlim_cur = 256 << 10;  // the f32 file is ~1.3 MB
  REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  cv::ConvertOptions o;
  o.type = WeightType::F32;
  const std::string msg = error_of([&] { cv::convert_hf_checkpoint(kTiny, out_dir + "/m.g3", o); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  CHECK_ERROR_CONTAINS(msg, "write failed");
  CHECK(list_dir(out_dir).empty());
}

// ---- safetensors and tokenizer files ---------------------------------------------------

TEST_CASE("bad safetensors: lying header lengths fail before allocating") {
  // (a header length past the end of a real checkpoint: tests/test_convert.cpp)
  std::vector<uint8_t> b(64, ' ');
  const std::string json = "{}";
  std::memcpy(b.data() + 8, json.data(), json.size());
  for (uint64_t lie : {uint64_t(1) << 40, uint64_t(100) << 20, uint64_t(57), uint64_t(1) << 63}) {
    CAPTURE(lie);
    set_le<uint64_t>(b, 0, lie);
    AllocProbe probe;
    const std::string msg =
        error_of([&] { cv::parse_safetensors(b.data(), b.size(), "x.safetensors"); });
    CHECK_ERROR_CONTAINS(msg, "x.safetensors: safetensors header length " + std::to_string(lie));
    CHECK(probe.max_single() < 4096);
  }
  // A header length shorter than the JSON: the JSON is cut and rejected.
  set_le<uint64_t>(b, 0, 1);
  CHECK_ERROR_CONTAINS(
      error_of([&] { cv::parse_safetensors(b.data(), b.size(), "x.safetensors"); }),
      "x.safetensors: safetensors header: invalid JSON");
}

TEST_CASE("bad tokenizer.model: duplicate or empty pieces, absurd lengths") {
  TempDir tmp;
  auto load_error = [&](const std::string& bytes) {
    write_text(tmp / "tokenizer.model", bytes);
    return error_of([&] { gemma3::Tokenizer::load(tmp / "tokenizer.model"); });
  };
  const gemma3::TokenizerData good = tiny_tokenizer_data();
  REQUIRE(load_error(sentencepiece_proto(good)).empty());
  gemma3::TokenizerData t = good;
  t.pieces[900].text = t.pieces[800].text;
  CHECK_ERROR_CONTAINS(load_error(sentencepiece_proto(t)), tmp / "tokenizer.model");
  CHECK_ERROR_CONTAINS(load_error(sentencepiece_proto(t)), "\" appears twice (ids 800 and 900)");
  t = good;
  t.pieces[10].text.clear();
  CHECK_ERROR_CONTAINS(load_error(sentencepiece_proto(t)), "piece 10 is empty");
  // A piece field claiming 2^40 bytes: rejected before anything is allocated for it.
  const std::string huge = varint(1 << 3 | 2) + varint(uint64_t(1) << 40) + "abc";
  {
    AllocProbe probe;
    CHECK_ERROR_CONTAINS(load_error(huge), "length-delimited field runs past the end");
    CHECK(probe.max_single() < 65536);  // (reading the file itself takes a few KB)
  }
}

TEST_CASE("bad tokenizer.json: duplicate, empty and reused vocabulary entries") {
  auto err = [](const std::string& vocab) {
    const std::string j =
        R"({"model":{"type":"BPE","unk_token":"<unk>","byte_fallback":false,"vocab":{)" + vocab +
        "}}}";
    return error_of([&] { gemma3::Tokenizer::from_json(j, "t.json"); });
  };
  REQUIRE(err(R"("<unk>":0,"a":1,"b":2)").empty());
  CHECK_ERROR_CONTAINS(err(R"("<unk>":0,"a":1,"a":2)"),
                       "t.json: piece \"a\" appears twice (ids 1 and 2)");
  CHECK_ERROR_CONTAINS(err(R"("<unk>":0,"":1,"b":2)"), "t.json: piece 1 is empty");
  CHECK_ERROR_CONTAINS(err(R"("<unk>":0,"a":1,"b":1)"), "t.json: model.vocab uses id 1 twice");
  CHECK_ERROR_CONTAINS(err(R"("<unk>":0,"a":1,"b":3)"),
                       "model.vocab id 3 of \"b\" is outside 0..2");
  CHECK_ERROR_CONTAINS(err(R"("<unk>":0,"a":-1)"), "model.vocab id -1 of \"a\" is outside 0..1");
  CHECK_ERROR_CONTAINS(err(""), "t.json: model.vocab is empty");
}

// ---- API misuse ----------------------------------------------------------------------
// (prompt longer than the context: tests/test_session.cpp "context overflow";
// decoder-level bad ids and spans: tests/test_decoder.cpp)

TEST_CASE("session API: ids outside the vocabulary are refused and leave the session usable") {
  TempDir tmp;
  write_bytes(tmp / "m.g3", tiny_file_bytes());
  const gemma3::Model model(tmp / "m.g3");
  gemma3::SessionOptions o;
  o.context = 32;
  o.threads = 1;
  o.sampling.greedy = true;
  o.prefill_chunk = 2;
  gemma3::Session s(model, o);
  const int V = int(model.config().text.vocab_size);
  for (int bad : {-1, V, 1 << 30}) {
    CAPTURE(bad);
    CHECK_ERROR_CONTAINS(error_of([&] {
                           s.generate({2, 30, 31, bad, 32}, {}, 1);
                         }),
                         "token id " + std::to_string(bad));
    CHECK(s.position() == 0);  // nothing of the refused prompt entered the cache
    CHECK_ERROR_CONTAINS(error_of([&] { s.prefill({bad}); }), "token id " + std::to_string(bad));
    s.reset();
  }
  CHECK(s.generate({2, 30}, {}, 1).tokens.size() == 1);
  // The tokenizer refuses ids outside its pieces.
  const gemma3::Tokenizer& tok = model.tokenizer();
  CHECK_ERROR_CONTAINS(error_of([&] { (void)tok.decode({5, -1}); }), "token id -1 is out of range");
  CHECK_ERROR_CONTAINS(error_of([&] { (void)tok.decode({tok.vocab_size()}); }),
                       "token id " + std::to_string(tok.vocab_size()) + " is out of range");
  gemma3::StreamDecoder sd(tok);
  CHECK_ERROR_CONTAINS(error_of([&] { (void)sd.push(1 << 30); }), "is out of range");
  // A chat turn longer than the context.
  CHECK_ERROR_CONTAINS(error_of([&] {
                         s.reset();
                         s.chat(std::string(2000, 'a'), {}, 1);
                       }),
                       "context overflow");
  CHECK(s.position() == 0);
}

// ---- regressions found by the fuzzers (fuzz/, docs/robustness.md) ----------------------

TEST_CASE("regression fuzz_sentencepiece: a piece whose text is not valid UTF-8") {
  // After 6.7 M executions the fuzzer made a tokenizer.model holding a normal
  // piece with invalid UTF-8 text; StreamDecoder passed its bytes through, breaking
  // the promise that decoded text is UTF-8. Such a vocabulary is refused at load.
  CHECK_ERROR_CONTAINS(
      error_of([&] {
        gemma3::Tokenizer::load(kRegressions + "sentencepiece_piece_invalid_utf8.model");
      }),
      "is not valid UTF-8");
  // The same through every route: protobuf, from_pieces, and JSON (its reader refuses it first).
  gemma3::TokenizerData t = tiny_tokenizer_data();
  t.pieces[700].text = "ab\xC3";  // a truncated 2-byte character
  CHECK_ERROR_CONTAINS(
      error_of([&] { gemma3::Tokenizer::from_sentencepiece(sentencepiece_proto(t), "t.model"); }),
      "t.model: piece 700 is not valid UTF-8");
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::Tokenizer::from_pieces(t.pieces, t.options); }),
                       "piece 700 is not valid UTF-8");
  const std::string j =
      R"({"model":{"type":"BPE","unk_token":"<unk>","byte_fallback":false,"vocab":{"<unk>":0,"a\ud800":1}}})";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::Tokenizer::from_json(j, "t.json"); }),
                       "lone high surrogate");  // JSON reader
}

// The three JPEG findings below were stb_image 2.27 defects; JPEG is now
// decoded by libjpeg (gemma3/detail/image_jpeg.hpp), which refuses or decodes
// each file cleanly. The files stay as regressions of the decoder switch.
TEST_CASE("regression fuzz_image: JPEG Huffman table with more than 256 codes") {
  // stb_image 2.27 wrote past its tables for this file (UBSan: index 257 out of
  // bounds in stbi__build_huffman). libjpeg checks the code count itself.
  const std::string p = kRegressions + "jpeg_dht_over_256_codes.jpg";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }),
                       "cannot decode JPEG: Bogus Huffman table definition");
}

TEST_CASE("regression fuzz_image: JPEG scan using a Huffman table no DHT defined") {
  // The fuzzer turned the class byte of the AC 0 table (0x10) into 0x00, so the
  // DHT defines DC 0 twice (its second, AC-shaped table is what libjpeg
  // refuses) and the scans use AC 0 undefined. stb_image 2.27 decoded it with
  // stale heap bytes (UBSan: index 418 out of bounds in stbi__jpeg_huff_decode).
  const std::string p = kRegressions + "jpeg_scan_undefined_huffman_table.jpg";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }),
                       "cannot decode JPEG: Bogus Huffman table definition");
  // A valid progressive JPEG (libjpeg, restart interval, 4:2:0) loads: its
  // first DC scan names AC table 0 before any AC table is defined.
  const gemma3::Image img = gemma3::load_image(kRegressions + "jpeg_progressive_ok.jpg");
  CHECK(img.width == 77);
  CHECK(img.height == 45);
}

TEST_CASE("regression fuzz_image: JPEG whose Huffman decoding runs code_bits negative") {
  // Finding 11: stb_image 2.27's fast-AC path let code_bits go negative on this
  // corrupt file (UBSan: shift exponent 32 in stbi__grow_buffer_unsafe; fixed
  // in stb 2.28, which Debian 12 lacks). No check before entropy decoding can
  // screen it, hence the switch to libjpeg. libjpeg (so Pillow too) refuses
  // the file: its scan uses a quantization table no DQT segment defines.
  const std::string p = kRegressions + "jpeg_negative_code_bits_shift.jpg";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }),
                       "cannot decode JPEG: Quantization table 0x00 was not defined");
}

TEST_CASE("regression fuzz_image: PNG with an empty IDAT before the image data") {
  // stb_image 2.27 calls memcpy(NULL, ..., 0) for a zero-length first IDAT
  // (UBSan: null pointer passed as argument 1 in stbi__getn). The fuzzer's file
  // is corrupt after that chunk: a clear error, and stb never sees the chunk.
  const std::string p = kRegressions + "png_empty_idat_first.png";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }), "cannot decode PNG");
  // Empty IDAT chunks are legal: a valid PNG with two of them (CRC = crc32("IDAT"))
  // before its data decodes to the same pixels as without.
  const std::vector<uint8_t> png =
      read_bytes(std::string(GEMMA3_TEST_DATA_DIR) + "/image/palette_3x2.png");
  std::size_t idat = 8;
  while (idat + 8 <= png.size() && std::memcmp(png.data() + idat + 4, "IDAT", 4) != 0)
    idat += 12 + ((std::size_t{png[idat]} << 24) | (png[idat + 1] << 16) | (png[idat + 2] << 8) |
                  png[idat + 3]);
  REQUIRE(idat + 8 <= png.size());
  const uint8_t empty[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
  std::vector<uint8_t> with_empty(png.begin(), png.begin() + std::ptrdiff_t(idat));
  for (int k = 0; k < 2; ++k) with_empty.insert(with_empty.end(), empty, empty + 12);
  with_empty.insert(with_empty.end(), png.begin() + std::ptrdiff_t(idat), png.end());
  const gemma3::Image a = gemma3::load_image_from_memory(png.data(), png.size(), "a.png");
  const gemma3::Image b =
      gemma3::load_image_from_memory(with_empty.data(), with_empty.size(), "b.png");
  CHECK(b.width == a.width);
  CHECK(b.height == a.height);
  CHECK(b.rgb == a.rgb);
}

TEST_CASE("regression fuzz_image: PNG chunk claiming more bytes than the file has") {
  // A 170-byte PNG whose second IDAT claims ~2^31 bytes: stb_image 2.27 grows
  // its IDAT buffer to that size before reading (libFuzzer: malloc(2147483648),
  // out of memory). Refused from the chunk walk, before stb allocates anything.
  const std::string p = kRegressions + "png_idat_length_past_end.png";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }),
                       "cannot decode PNG: chunk IDAT of ");
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }),
                       "bytes runs past the end of the file");
}

TEST_CASE("regression fuzz_image: PNG ending in an empty IDAT without its CRC") {
  // A 55-byte PNG whose last chunk, an empty IDAT, stops before its CRC: the
  // copy made to leave out empty IDATs (see above) skipped 12 bytes past the
  // end of the file and threw std::length_error instead of gemma3::Error.
  const std::string p = kRegressions + "png_empty_idat_without_crc.png";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }), "cannot decode PNG");
}

TEST_CASE("regression fuzz_image: 16-bit PNM hidden behind a comment ending in CR") {
  // "P5 6 # c ...\r 3 3336": stb ends a comment at '\r' as well as '\n', so it
  // read maxval 3336 (16-bit samples) while the loader's own header walk,
  // ending comments at '\n' only, read other numbers and let the file through.
  // stb 2.27 then converts 16-bit PNM samples with its 8-bit routine and reads
  // past its 54-byte buffer (ASan: heap-buffer-overflow in
  // stbi__convert_16_to_8). The header is now read once, with stb's rules.
  const std::string p = kRegressions + "pnm_16bit_comment_cr.pgm";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }),
                       "16-bit PNM samples are not supported");
  // An 8-bit PGM whose comment ends in '\r' still loads.
  const std::string ok = "P5\n# made by hand\r3 1\n255\n\x01\x02\x03";
  const gemma3::Image img = gemma3::load_image_from_memory(ok.data(), ok.size(), "ok.pgm");
  CHECK(img.width == 3);
  CHECK(img.height == 1);
}

TEST_CASE("regression fuzz_image: PNM header number that overflows an int") {
  // stb_image 2.27 parses "P5 3333333333333..." into an int (UBSan: signed
  // integer overflow in stbi__pnm_getinteger); refused before stb reads it.
  const std::string p = kRegressions + "pnm_header_int_overflow.pgm";
  CHECK_ERROR_CONTAINS(error_of([&] { gemma3::load_image(p); }), "PNM header number too large");
  // Ordinary headers, comments included, still load.
  const std::string ok = "P5 # comment\n3 1\n255\n\x01\x02\x03";
  const gemma3::Image img = gemma3::load_image_from_memory(ok.data(), ok.size(), "ok.pgm");
  CHECK(img.width == 3);
  CHECK(img.rgb[3] == 2);
}
