// gemma3-tokenize end to end: the command a user runs to check parity on
// their own corpus. Feeds every golden string (ids from SentencePiece itself)
// through the binary, with a tokenizer.model and with a converted model file,
// and checks ids, decoding and the error path.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "gemma3/convert/hf_checkpoint.hpp"
#include "gemma3/json.hpp"
#include "tool_test_util.hpp"

namespace json = gemma3::json;

namespace {

const std::string kData = GEMMA3_TEST_DATA_DIR;
const std::string kBin = std::string(GEMMA3_BINARY_DIR) + "/gemma3-tokenize";

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string scratch(const std::string& name) {
  return std::string(GEMMA3_BINARY_DIR) + "/test_tokenize_tool_" + std::to_string(::getpid()) +
         "_" + name;
}

std::vector<int> ids_of(const json::Value& v) {
  std::vector<int> ids;
  for (const json::Value& x : json::get(v, "ids", "line").as_array())
    ids.push_back(int(x.as_int("id")));
  return ids;
}

// Runs the tool on `golden` (jsonl with text/ids fields): encode every text,
// then decode the golden ids; compares with the golden fields.
void check_corpus(const std::string& tokenizer, const std::string& golden,
                  const char* decoded_field) {
  const auto golden_lines = lines_of(golden);
  REQUIRE(!golden_lines.empty());
  const std::string in = scratch("in.jsonl"), out = scratch("out.jsonl");
  const std::string din = scratch("din.jsonl"), dout = scratch("dout.jsonl");
  {
    std::ofstream enc(in), dec(din);
    for (const std::string& line : golden_lines) {
      const json::Value g = json::parse(line, golden);
      enc << "{\"text\": " << json::quote(json::get_string(g, "text", golden)) << "}\n";
      dec << "{\"ids\": [";
      const auto ids = ids_of(g);
      for (size_t i = 0; i < ids.size(); ++i) dec << (i ? "," : "") << ids[i];
      dec << "]}\n";
    }
  }
  REQUIRE(std::system((tool_command(kBin) + " " + tokenizer + " < " + in + " > " + out).c_str()) ==
          0);
  REQUIRE(std::system((tool_command(kBin) + " " + tokenizer + " --decode < " + din + " > " + dout)
                          .c_str()) == 0);
  const auto got = lines_of(out), got_text = lines_of(dout);
  REQUIRE(got.size() == golden_lines.size());
  REQUIRE(got_text.size() == golden_lines.size());
  size_t same_ids = 0, same_text = 0;
  for (size_t i = 0; i < golden_lines.size(); ++i) {
    const json::Value g = json::parse(golden_lines[i], golden);
    same_ids += ids_of(json::parse(got[i], "tool output")) == ids_of(g);
    same_text += json::get_string(json::parse(got_text[i], "tool output"), "text", "tool output") ==
                 json::get_string(g, decoded_field, golden);
  }
  CHECK(same_ids == golden_lines.size());
  CHECK(same_text == golden_lines.size());
  for (const std::string& f : {in, out, din, dout}) std::remove(f.c_str());
}

}  // namespace

TEST_CASE("gemma3-tokenize: the real tokenizer.model, every golden string (encode and decode)") {
  REQUIRE_MESSAGE(exists(kBin), "build the gemma3-tokenize target first: " << kBin);
  check_corpus(kData + "/tokenizer/tokenizer.model", kData + "/tokenizer/golden_dev.jsonl",
               "decoded");
}

TEST_CASE("gemma3-tokenize: a converted model file carries its tokenizer") {
  REQUIRE_MESSAGE(exists(kBin), "build the gemma3-tokenize target first: " << kBin);
  const std::string model = scratch("tiny.gemma3");
  gemma3::convert::ConvertOptions options;
  options.type = gemma3::WeightType::F32;
  gemma3::convert::convert_hf_checkpoint(kData + "/tiny/model", model, options);
  check_corpus(model, kData + "/tokenizer/tiny/golden_tiny.jsonl", "decoded");
  std::remove(model.c_str());
}

TEST_CASE("gemma3-tokenize: bad input exits 1 with 'error: ...'") {
  REQUIRE_MESSAGE(exists(kBin), "build the gemma3-tokenize target first: " << kBin);
  const std::string in = scratch("bad.jsonl"), err = scratch("err.txt");
  const std::string tok = kData + "/tokenizer/tokenizer.model";
  auto run = [&](const std::string& args, const std::string& input) {
    std::ofstream(in) << input;
    const int rc = std::system(
        (tool_command(kBin) + " " + args + " < " + in + " > /dev/null 2> " + err).c_str());
    std::ifstream f(err);
    std::stringstream s;
    s << f.rdbuf();
    return std::make_pair(rc, s.str());
  };
  for (const auto& [args, input] : std::vector<std::pair<std::string, std::string>>{
           {tok, "not json\n"},
           {tok + " --decode", "{\"ids\": [999999999]}\n"},
           {kData + "/tokenizer/NOTICE", "{\"text\": \"x\"}\n"},
           {"/no/such/file", "{\"text\": \"x\"}\n"}}) {
    CAPTURE(args);
    const auto [rc, msg] = run(args, input);
    CHECK(rc != 0);
    CHECK(msg.rfind("error: ", 0) == 0);
  }
  std::remove(in.c_str());
  std::remove(err.c_str());
}
