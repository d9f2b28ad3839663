// Tests for gemma3/tokenizer.hpp against SentencePiece's own outputs (tests/data/tokenizer:
// golden_dev.jsonl and decode_cases.jsonl from SentencePiece 0.1.97, golden_tiny.jsonl for
// the tiny checkpoint's tokenizer), plus robustness and speed checks.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gemma3/json.hpp"
#include "gemma3/tokenizer.hpp"

namespace json = gemma3::json;
using gemma3::Piece;
using gemma3::PieceType;
using gemma3::Tokenizer;

namespace {

const std::string kData = std::string(GEMMA3_TEST_DATA_DIR) + "/tokenizer";

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

std::vector<json::Value> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "missing test data " << path);
  std::vector<json::Value> out;
  std::string line;
  int n = 0;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(json::parse(line, path + " line " + std::to_string(++n)));
  return out;
}

std::vector<int> ints(const json::Value& v) {
  std::vector<int> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<int>(x.as_int()));
  return out;
}

const Tokenizer& real() {
  static const Tokenizer t = Tokenizer::load(kData + "/tokenizer.model");
  return t;
}
const Tokenizer& tiny() {
  static const Tokenizer t = Tokenizer::load(kData + "/tiny/tokenizer.model");
  return t;
}

// Every chunk must be whole UTF-8 characters.
bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = gemma3::detail::utf8_seq_len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// SentencePiece's normalizer: each byte that does not start a valid UTF-8 character
// becomes U+FFFD (written independently of the tokenizer code).
std::string replace_invalid(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = gemma3::detail::utf8_seq_len(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string stream_decode(const Tokenizer& t, const std::vector<int>& ids, bool check_chunks) {
  gemma3::StreamDecoder d(t);
  std::string out;
  for (int id : ids) {
    const std::string chunk = d.push(id);
    if (check_chunks) CHECK(valid_utf8(chunk));
    out += chunk;
  }
  out += d.flush();
  return out;
}

}  // namespace

TEST_CASE("tokenizer: real Gemma 3 vocabulary basics") {
  const Tokenizer& t = real();
  CHECK(t.vocab_size() == 262144);
  CHECK(t.pad_id() == 0);
  CHECK(t.eos_id() == 1);
  CHECK(t.bos_id() == 2);
  CHECK(t.unk_id() == 3);
  // special_tokens.json ids
  const auto special = json::parse(
      [] {
        std::ifstream f(kData + "/special_tokens.json");
        return std::string(std::istreambuf_iterator<char>(f), {});
      }(),
      "special_tokens.json");
  int checked = 0;
  for (const auto& kv : json::get(special, "ids", "special_tokens.json").as_object()) {
    const int want = static_cast<int>(kv.second.as_int());
    if (want >= t.vocab_size()) {
      CHECK(!t.token_id(kv.first).has_value());  // <image_soft_token>: HF-only
      continue;
    }
    CAPTURE(kv.first);
    REQUIRE(t.token_id(kv.first).has_value());
    CHECK(*t.token_id(kv.first) == want);
    CHECK(t.piece(want) == kv.first);
    ++checked;
  }
  CHECK(checked >= 20);
  CHECK(t.piece_type(2) == PieceType::Control);
  CHECK(t.piece_type(3) == PieceType::Unknown);
  CHECK(t.piece_type(105) == PieceType::UserDefined);
  CHECK(t.piece_type(238) == PieceType::Byte);
  CHECK(t.piece_type(494) == PieceType::Normal);
  CHECK_THROWS_AS(t.piece(-1), gemma3::Error);
  CHECK_THROWS_AS(t.piece(262144), gemma3::Error);
}

TEST_CASE("tokenizer: golden_dev.jsonl — SentencePiece ids and decode, 100%") {
  const Tokenizer& t = real();
  const auto rows = read_jsonl(kData + "/golden_dev.jsonl");
  REQUIRE(rows.size() == 295);
  int enc_ok = 0, dec_ok = 0, stream_ok = 0;
  for (const auto& r : rows) {
    const std::string& id = json::get_string(r, "id", "golden");
    const std::string& text = json::get_string(r, "text", id);
    const auto want = ints(json::get(r, "ids", id));
    const std::string& decoded = json::get_string(r, "decoded", id);
    CAPTURE(id);
    const auto got = t.encode(text);
    CHECK(got == want);
    enc_ok += got == want;
    const std::string d = t.decode(want);
    CHECK(d == decoded);
    dec_ok += d == decoded;
    const std::string s = stream_decode(t, want, true);
    CHECK(s == decoded);
    stream_ok += s == decoded;
    CHECK((decoded == text) == json::get_bool(r, "roundtrip", id));
  }
  MESSAGE("golden_dev: encode " << enc_ok << "/295, decode " << dec_ok << "/295, stream "
                                << stream_ok << "/295");
}

TEST_CASE("tokenizer: tiny checkpoint tokenizer — golden_tiny.jsonl") {
  const Tokenizer& t = tiny();
  CHECK(t.vocab_size() == 960);
  CHECK(t.bos_id() == 2);
  CHECK(t.eos_id() == 1);
  CHECK(*t.token_id("<start_of_image>") == 900);
  CHECK(*t.token_id("<end_of_image>") == 901);
  const auto rows = read_jsonl(kData + "/tiny/golden_tiny.jsonl");
  REQUIRE(rows.size() >= 50);
  for (const auto& r : rows) {
    const std::string& text = json::get_string(r, "text", "tiny");
    CAPTURE(text);
    const auto want = ints(json::get(r, "ids", "tiny"));
    CHECK(t.encode(text) == want);
    CHECK(t.decode(want) == json::get_string(r, "decoded", "tiny"));
  }
}

TEST_CASE("tokenizer: decode_cases.jsonl") {
  const Tokenizer& t = real();
  const auto rows = read_jsonl(kData + "/decode_cases.jsonl");
  REQUIRE(rows.size() >= 20);
  for (const auto& r : rows) {
    CAPTURE(json::get_string(r, "description", "case"));
    const auto ids = ints(json::get(r, "ids", "case"));
    const auto& want = json::get(r, "sp_decoded", "case");
    if (want.is_null()) {  // SentencePiece reports an error (id out of range)
      CHECK_THROWS_AS(t.decode(ids), gemma3::Error);
      gemma3::StreamDecoder d(t);
      CHECK_THROWS_AS(
          [&] {
            for (int id : ids) d.push(id);
          }(),
          gemma3::Error);
      continue;
    }
    CHECK(t.decode(ids) == want.as_string());
    CHECK(stream_decode(t, ids, true) == want.as_string());
  }
}

TEST_CASE("tokenizer: streaming never splits a UTF-8 character") {
  const Tokenizer& t = real();
  // 🫩 as four byte pieces: nothing printable until the last one.
  gemma3::StreamDecoder d(t);
  CHECK(d.push(478).empty());
  CHECK(d.push(397).empty());
  CHECK(d.push(409).empty());
  CHECK(d.push(407) == "\xF0\x9F\xAB\xA9");
  // A lead byte followed by a non-continuation byte is invalid at once.
  CHECK(d.push(478).empty());  // F0
  CHECK(d.push(238 + 0x41) ==
        "\xEF\xBF\xBD"
        "A");                          // F0 then 'A' byte
  CHECK(d.push(478).empty());          // F0 pending
  CHECK(d.flush() == "\xEF\xBF\xBD");  // end of stream: U+FFFD
  d.reset();
  CHECK(d.push(238 + 0xE0).empty());
  CHECK(d.push(238 + 0x80) == "\xEF\xBF\xBD\xEF\xBF\xBD");  // E0 80 is an overlong prefix
  // Random byte-piece streams match whole decode.
  std::mt19937 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<int> ids;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      const unsigned r = rng() % 10;
      if (r < 6) ids.push_back(238 + static_cast<int>(rng() % 256));
      else if (r < 8) ids.push_back(9259);  // "Hello"
      else if (r < 9) ids.push_back(2);     // <bos>: control, invisible
      else ids.push_back(3);                // <unk>
    }
    CHECK(stream_decode(t, ids, true) == t.decode(ids));
    CHECK(valid_utf8(t.decode(ids)));
  }
}

TEST_CASE("tokenizer: random byte strings — no crash, SentencePiece's U+FFFD rule, round trip") {
  const Tokenizer& t = real();
  std::mt19937 rng(12345);
  const char* pool[] = {"a",
                        "b",
                        " ",
                        "  ",
                        "\n",
                        "\t",
                        "\xC3\xA9",
                        "\xE4\xB8\xAD",
                        "\xF0\x9F\x98\x8A",
                        "<",
                        ">",
                        "<start_of_turn>",
                        "<bos>",
                        "\xE2\x96\x81",
                        "\xEF\xBF\xBD",
                        "1",
                        "."};
  for (int iter = 0; iter < 400; ++iter) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      if (iter % 2 == 0) s += static_cast<char>(rng() % 256);  // arbitrary bytes
      else s += pool[rng() % (sizeof pool / sizeof pool[0])];
    }
    CAPTURE(json::quote(s));
    const auto ids = t.encode(s);
    for (int id : ids) REQUIRE((id >= 0 && id < t.vocab_size()));
    const std::string clean = replace_invalid(s);
    CHECK(ids == t.encode(clean));  // invalid bytes are encoded as U+FFFD
    const std::string back = t.decode(ids);
    CHECK(valid_utf8(back));
    if (clean.find("\xE2\x96\x81") == std::string::npos) CHECK(back == clean);
  }
}

TEST_CASE("tokenizer: long inputs take about linear time") {
  const Tokenizer& t = real();
  const auto rows = read_jsonl(kData + "/golden_dev.jsonl");
  std::string big;
  while (big.size() < (1u << 20))
    for (const auto& r : rows) {
      const std::string& text = json::get_string(r, "text", "golden");
      if (text.find("\xE2\x96\x81") == std::string::npos) big += text + "\n";
    }
  const std::string same(1u << 20, 'a');
  std::string spaces;
  for (int i = 0; i < (1 << 18); ++i) spaces += (i % 7 == 0) ? "x" : " ";
  for (const std::string* s : std::vector<const std::string*>{&big, &same, &spaces}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = t.encode(*s);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("encoded " << s->size() << " bytes into " << ids.size() << " ids in " << sec << " s");
    CHECK(sec < 30.0);  // ~0.2 s in a release build; generous for sanitizers
    CHECK(t.decode(ids) == *s);
  }
}

TEST_CASE("tokenizer: load time of the real vocabulary") {
  const auto t0 = std::chrono::steady_clock::now();
  const Tokenizer t = Tokenizer::load(kData + "/tokenizer.model");
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("tokenizer.model loaded in " << sec << " s");
  CHECK(sec < 5.0);  // ~0.05 s in a release build
  const auto t1 = std::chrono::steady_clock::now();
  const Tokenizer u = Tokenizer::from_pieces(t.pieces(), t.options());
  const double sec2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  MESSAGE("from_pieces(262144) in " << sec2 << " s");
  CHECK(sec2 < 5.0);
  CHECK(u.encode("Hello world <start_of_turn>") == t.encode("Hello world <start_of_turn>"));
}

TEST_CASE("tokenizer: from_pieces validates") {
  auto base = [] {
    std::vector<Piece> p = {{"<pad>", 0, PieceType::Control},
                            {"<eos>", 0, PieceType::Control},
                            {"<bos>", 0, PieceType::Control},
                            {"<unk>", 0, PieceType::Unknown}};
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      p.push_back({name, 0, PieceType::Byte});
    }
    p.push_back({"a", -1, PieceType::Normal});
    p.push_back({"b", -2, PieceType::Normal});
    p.push_back({"ab", -3, PieceType::Normal});
    return p;
  };
  auto msg = [](std::vector<Piece> p, gemma3::TokenizerOptions o = {}) -> std::string {
    try {
      Tokenizer::from_pieces(std::move(p), o);
    } catch (const gemma3::Error& e) {
      return e.what();
    }
    return "";
  };
  const Tokenizer ok = Tokenizer::from_pieces(base());
  // "abab c" -> ab ab, then ▁ (3 bytes) and c are not pieces: byte fallback (<0xHH> = 4 + HH).
  CHECK(ok.encode("abab c") == std::vector<int>{262, 262, 4 + 0xE2, 4 + 0x96, 4 + 0x81, 4 + 'c'});
  CHECK(ok.bos_id() == 2);

  auto p = base();
  p.push_back({"a", 0, PieceType::Normal});
  CHECK(msg(p) == "tokenizer: piece \"a\" appears twice (ids 260 and 263)");
  p = base();
  p[5].text.clear();
  CHECK(msg(p) == "tokenizer: piece 5 is empty");
  p = base();
  p[3].type = PieceType::Normal;
  CHECK(msg(p) == "tokenizer: no unknown piece (<unk>)");
  p = base();
  p.push_back({"<unk2>", 0, PieceType::Unknown});
  CHECK(msg(p).find("two unknown pieces") != std::string::npos);
  p = base();
  p[4 + 0x41].type = PieceType::Normal;
  CHECK(msg(p) == "tokenizer: byte_fallback is on but byte piece <0x41> is missing");
  p = base();
  p[4].text = "<0xzz>";
  CHECK(msg(p).find("expected <0xHH>") != std::string::npos);
  p = base();
  p[260].score = std::nanf("");
  CHECK(msg(p) == "tokenizer: piece 260 has a NaN score");
  p = base();
  p[260].type = static_cast<PieceType>(9);
  CHECK(msg(p) == "tokenizer: piece 260 has invalid type 9");
  gemma3::TokenizerOptions no_bytes;
  no_bytes.byte_fallback = false;
  CHECK(msg(base(), no_bytes).find("byte_fallback is off") != std::string::npos);
  CHECK(msg({}) == "tokenizer: no pieces");
}

TEST_CASE("tokenizer: SentencePiece semantics without byte fallback, with UNUSED pieces") {
  // unknown characters collapse into one <unk>; an UNUSED piece formed by a merge is
  // split back into its halves (bpe_model.cc resegment).
  std::vector<Piece> p = {
      {"<unk>", 0, PieceType::Unknown}, {"<s>", 0, PieceType::Control},
      {"a", -1, PieceType::Normal},     {"b", -2, PieceType::Normal},
      {"ab", -3, PieceType::Unused},    {"c", -4, PieceType::Normal},
      {"abc", -5, PieceType::Normal},   {"\xE2\x96\x81", -6, PieceType::Normal}};
  gemma3::TokenizerOptions o;
  o.byte_fallback = false;
  const Tokenizer t = Tokenizer::from_pieces(p, o);
  CHECK(t.encode("xyz") == std::vector<int>{0});
  CHECK(t.encode("axyb") == std::vector<int>{2, 0, 3});
  CHECK(t.encode("ab") == std::vector<int>{2, 3});  // "ab" is unused: split back
  CHECK(t.encode("abc") == std::vector<int>{6});    // merged on through the unused piece
  CHECK(t.encode("a b") == std::vector<int>{2, 7, 3});
  CHECK(t.decode({0, 2}) == " \xE2\x81\x87 a");
  CHECK(t.bos_id() == -1);  // options name <bos>, which this vocabulary lacks
}

TEST_CASE("tokenizer: dummy prefix and whitespace squeezing like SentencePiece's defaults") {
  std::vector<Piece> p = {{"<unk>", 0, PieceType::Unknown},
                          {"\xE2\x96\x81", -1, PieceType::Normal},
                          {"a", -2, PieceType::Normal},
                          {"\xE2\x96\x81"
                           "a",
                           -3, PieceType::Normal},
                          {"b", -4, PieceType::Normal}};
  gemma3::TokenizerOptions o;
  o.byte_fallback = false;
  o.add_dummy_prefix = true;
  o.remove_extra_whitespaces = true;
  const Tokenizer t = Tokenizer::from_pieces(p, o);
  CHECK(t.encode("  a   b  ") == std::vector<int>{3, 1, 4});  // "▁a▁b"
  CHECK(t.encode("   ").empty());
  CHECK(t.decode({3, 1, 4}) == "a b");  // leading ▁ dropped
  o.remove_extra_whitespaces = false;
  const Tokenizer u = Tokenizer::from_pieces(p, o);
  CHECK(u.encode("a  b") == std::vector<int>{3, 1, 1, 4});
  CHECK(u.decode({1, 3}) == " a");  // only the first ▁ of the text is the dummy prefix
}

TEST_CASE("tokenizer: malformed tokenizer.model files throw gemma3::Error, never crash") {
  std::ifstream f(kData + "/tiny/tokenizer.model", std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(f)), {});
  REQUIRE(good.size() > 1000);
  CHECK_NOTHROW(Tokenizer::from_sentencepiece(good));
  // Truncations.
  for (size_t n = 0; n < good.size(); n += (n < 64 ? 1 : 97)) {
    try {
      Tokenizer::from_sentencepiece(std::string_view(good).substr(0, n));
    } catch (const gemma3::Error&) {
    }
  }
  // Random corruptions.
  std::mt19937 rng(99);
  int errors = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bad[rng() % bad.size()] = static_cast<char>(rng() % 256);
    try {
      const Tokenizer t = Tokenizer::from_sentencepiece(bad);
      (void)t.encode("Hello world, <start_of_turn> \xF0\x9F\x98\x8A");
    } catch (const gemma3::Error&) {
      ++errors;
    }
  }
  MESSAGE(errors << "/400 corrupted files rejected");
  try {
    Tokenizer::load(kData + "/does-not-exist.model");
    FAIL("no throw");
  } catch (const gemma3::Error& e) {
    CHECK(std::string(e.what()).find("does-not-exist.model: cannot open") != std::string::npos);
  }
  CHECK_THROWS_AS(Tokenizer::from_sentencepiece(std::string("\x0a\x05\x0a\x01", 4)), gemma3::Error);
}

// A tokenizer.json written from the tiny model's pieces, in the layout of Gemma's
// release file (vocab + added_tokens + Replace normalizer + Split pre-tokenizer).
TEST_CASE("tokenizer: tokenizer.json reader on a file made from the tiny model") {
  const Tokenizer& t = tiny();
  std::string j = R"({"version":"1.0","added_tokens":[)";
  bool first = true;
  for (int id = 0; id < t.vocab_size(); ++id) {
    const PieceType ty = t.piece_type(id);
    if (ty != PieceType::Control && ty != PieceType::Unknown && ty != PieceType::UserDefined)
      continue;
    if (!first) j += ",";
    first = false;
    j += R"({"id":)" + std::to_string(id) + R"(,"content":)" + json::quote(t.piece(id)) +
         R"(,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":)" +
         (ty == PieceType::UserDefined ? "false" : "true") + "}";
  }
  j += R"(,{"id":960,"content":"<image_soft_token>","special":true}],)";
  j += R"("normalizer":{"type":"Replace","pattern":{"String":" "},"content":"\u2581"},)";
  j +=
      R"("pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"MergedWithPrevious","invert":false},)";
  j += R"("model":{"type":"BPE","unk_token":"<unk>","byte_fallback":true,"vocab":{)";
  for (int id = 0; id < t.vocab_size(); ++id)
    j += (id ? "," : "") + json::quote(t.piece(id)) + ":" + std::to_string(id);
  j += R"(},"merges":[]}})";
  const Tokenizer u = Tokenizer::from_json(j, "tiny tokenizer.json");
  REQUIRE(u.vocab_size() == t.vocab_size());
  for (int id = 0; id < t.vocab_size(); ++id) {
    CAPTURE(id);
    CHECK(u.piece(id) == t.piece(id));
    CHECK(u.piece_type(id) == t.piece_type(id));
  }
  CHECK(u.bos_id() == 2);
  for (const auto& r : read_jsonl(kData + "/tiny/golden_tiny.jsonl")) {
    const std::string& text = json::get_string(r, "text", "tiny");
    CAPTURE(text);
    CHECK(u.encode(text) == ints(json::get(r, "ids", "tiny")));
  }
  CHECK_THROWS_AS(Tokenizer::from_json(R"({"model":{"type":"Unigram"}})"), gemma3::Error);
  CHECK_THROWS_AS(
      Tokenizer::from_json(R"({"model":{"type":"BPE","unk_token":"<unk>","vocab":{"<unk>":1}}})"),
      gemma3::Error);
}

// The released tokenizer.json (33 MB) is not in the repository: set
// GEMMA3_TOKENIZER_JSON to its path to run this case.
TEST_CASE("tokenizer: released tokenizer.json (GEMMA3_TOKENIZER_JSON, skipped when unset)") {
  const char* env = std::getenv("GEMMA3_TOKENIZER_JSON");
  const std::string path = env ? env : "";
  if (path.empty() || !file_exists(path)) {
    MESSAGE("skipped: GEMMA3_TOKENIZER_JSON unset or not a file");
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Tokenizer j = Tokenizer::load(path);
  MESSAGE("tokenizer.json loaded in "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
  const Tokenizer& m = real();
  REQUIRE(j.vocab_size() == m.vocab_size());
  int same = 0;
  for (int id = 0; id < m.vocab_size(); ++id) {
    const Piece& a = j.pieces()[static_cast<size_t>(id)];
    const Piece& b = m.pieces()[static_cast<size_t>(id)];
    same += a.text == b.text && a.type == b.type && a.score == b.score;
  }
  CHECK(same == m.vocab_size());  // the same SentencePiece model
  int agree = 0, hf_agree_rows = 0;
  for (const auto& r : read_jsonl(kData + "/golden_dev.jsonl")) {
    const std::string& id = json::get_string(r, "id", "golden");
    CAPTURE(id);
    const auto got = j.encode(json::get_string(r, "text", id));
    CHECK(got == ints(json::get(r, "ids", id)));
    if (json::get_bool(r, "hf_agrees", id)) {
      ++hf_agree_rows;
      agree += got == ints(json::get(r, "hf_ids", id));
    }
  }
  CHECK(agree == hf_agree_rows);
  MESSAGE("tokenizer.json: " << agree << "/" << hf_agree_rows
                             << " rows equal to hf_ids where the README says they agree");
}

// Encoding is done in independent chunks (cut at frozen symbols and "▁" runs); with an
// UNUSED piece in the vocabulary the tokenizer falls back to one pass over the whole
// text, the plain SentencePiece algorithm. Both must agree, also where a piece like
// ">▁</" spans a cut candidate.
TEST_CASE("tokenizer: chunked encoding equals the single-pass algorithm") {
  const Tokenizer& t = real();
  std::vector<Piece> p = t.pieces();
  p.push_back({"\x01\x02never-matched", 0, PieceType::Unused});
  const Tokenizer single = Tokenizer::from_pieces(p, t.options());
  std::vector<std::string> texts = {"<b> </b>", "a> </a>   > </  >  </", "x>\t </y",
                                    "<td> </td>\n<tr> </tr>"};
  for (const auto& r : read_jsonl(kData + "/golden_dev.jsonl"))
    texts.push_back(json::get_string(r, "text", "golden"));
  std::string all;
  for (const auto& s : texts) all += s + " > </";
  texts.push_back(all);
  for (const auto& s : texts) {
    CAPTURE(json::quote(s.substr(0, 60)));
    CHECK(t.encode(s) == single.encode(s));
  }
  CHECK(t.encode("> </") == std::vector<int>{*t.token_id(">\xE2\x96\x81</")});
}
